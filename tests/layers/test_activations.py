import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer
from handgrad.kernels import backend
from tests.torch_oracle import activation as torch_activation
from tests.torch_oracle import t
from tests.ulps import assert_elu_close, expm1_ulps

LAYERS = [hg.ELU(), hg.ELU(alpha=0.5), hg.ELU(alpha=2.0), hg.ReLU(), hg.LeakyReLU(), hg.LeakyReLU(0.01), hg.Tanh(),
          hg.Sigmoid()]


def _away_from_kinks(rng, shape):
    """Inputs at least 1e-3 from 0, where ReLU-like derivatives jump (finite differences straddle no kink)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_finite_differences(layer, rng):
    layer.activity_regularizer = hg.L1L2(0.01, 0.1)
    report = check_layer(layer, _away_from_kinks(rng, (3, 2, 4, 4)), verbose=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_matches_torch(layer, rng):
    x = rng.standard_normal((4, 3, 5, 5)) * 3
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    X = t(x, True)
    Y = torch_activation(X, layer)
    Y.backward(t(dy))
    np.testing.assert_allclose(y, Y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, X.grad.numpy(), rtol=1e-12, atol=1e-14)


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
