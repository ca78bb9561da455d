"""Activations: what the layer registry (tests/layer_cases.py: finite differences, PyTorch) does not check."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.kernels import backend
from tests.ulps import assert_elu_close, expm1_ulps


def test_sigmoid_does_not_overflow():
    y = hg.Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_array_equal(y, [[0.0, 0.5, 1.0]])


def test_channels_last_layout_is_kept(rng):
    x = np.ascontiguousarray(rng.standard_normal((2, 4, 4, 3))).transpose(0, 3, 1, 2)  # NHWC memory, NCHW view
    y = hg.ELU().forward(x)
    assert y.strides == x.strides
    kernels = backend.active_kernels()  # numba's expm1 and NumPy's SIMD one may differ in the last bit
    assert_elu_close(y, x, 1.0, expm1_ulps(kernels, x.dtype), kernels)


@pytest.mark.parametrize("cls,arg", [(hg.ELU, "alpha"), (hg.LeakyReLU, "negative_slope")])
def test_bad_coefficient(cls, arg):
    with pytest.raises(ValueError, match=f"{cls.__name__}: {arg} must be > 0.0, got -1.0"):
        cls(-1.0)


def test_activation_names():
    assert isinstance(hg.Conv2D(2, 3, activation="elu").activation, hg.ELU)
    assert hg.Dense(2, activation="linear").activation is None
