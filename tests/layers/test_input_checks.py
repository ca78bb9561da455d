"""What every layer's ``forward``/``backward`` refuses, with the error named in ``handgrad.errors``."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.errors import ArgumentTypeError, NonFiniteError, ShapeError, StateError


def built_dense():
    layer = hg.Dense(3)
    layer.build((4,))
    return layer


def test_backward_before_forward_is_a_state_error():
    with pytest.raises(StateError, match="dense: backward called before forward"):
        built_dense().backward(np.zeros((2, 3)))


def test_dy_must_match_the_forward_batch_and_the_output_shape(rng):
    layer = built_dense()
    layer.forward(rng.standard_normal((2, 4)))
    with pytest.raises(ShapeError, match=r"dense: expected dy of shape \(2, 3\), got \(3, 3\)"):
        layer.backward(np.zeros((3, 3)))
    with pytest.raises(ShapeError, match=r"dense: expected dy of shape \(2, 3\), got \(2, 3, 1\)"):
        layer.backward(np.zeros((2, 3, 1)))
    dy = np.ones((2, 3))
    dy[1, 2] = np.inf
    with pytest.raises(NonFiniteError, match=r"dense: dy holds 1 non-finite value"):
        layer.backward(dy)


def test_inputs_must_hold_real_numbers(rng):
    with pytest.raises(ArgumentTypeError, match="dense: input must hold real numbers, got dtype complex128"):
        built_dense().forward(np.ones((2, 4), complex))
    with pytest.raises(ArgumentTypeError, match="relu: input must hold real numbers, got dtype object"):
        hg.ReLU().forward(np.array([[1.0, None]]))
    with pytest.raises(ShapeError, match="dense: input must be an array, got a list NumPy cannot convert"):
        built_dense().forward([[1.0, 2.0, 3.0, 4.0], [1.0]])
    with pytest.raises(ShapeError, match=r"tanh: expected a batch \(N, ...\), got an array of shape \(3,\)"):
        hg.Tanh().forward(np.zeros(3))


def test_integer_and_bool_inputs_are_converted_like_floats(rng):
    layer = built_dense()
    x = rng.integers(-5, 5, size=(3, 4))
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x.astype(np.float32)))
    relu = hg.ReLU()
    y = relu.forward(np.array([[True, False]]))
    assert y.dtype == np.float32 and y.tolist() == [[1.0, 0.0]]


def test_a_direct_call_refuses_to_return_an_overflow(rng):
    layer = built_dense()
    x = np.full((2, 4), 1e38, np.float32)  # finite, but x @ W overflows float32 for most weights
    layer.params["W"][...] = 1.0
    with pytest.raises(NonFiniteError, match=r"dense: the output y holds 6 non-finite value\(s\): computed from a "
                                             r"finite input and parameters, it overflowed float32"):
        with np.errstate(over="ignore"):
            layer.forward(x)
    layer.params["W"][0, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"the parameters \['W'\] hold non-finite values"):
        layer.forward(np.ones((2, 4)))


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("dy_shape", [(1, 3, 3, 3), (2, 3, 1, 1), (2, 3, 4, 4), (2, 27)])
def test_a_wrong_dy_never_reaches_a_kernel(rng, kernels, dy_shape):
    # Before these checks, the numba max-pool backward (no bounds checks) read and wrote outside its arrays
    # for such a dy and crashed the interpreter (found by tests/test_properties.py).
    from handgrad.kernels import backend

    with backend.using_kernels(kernels):
        for layer in (hg.MaxPool2D(2), hg.AvgPool2D(2), hg.Conv2D(3, 3, stride=2, activation="elu")):
            layer.forward(rng.standard_normal((2, 3, 6, 6)))  # output (2, 3, 3, 3)
            with pytest.raises(ShapeError, match=rf"{layer.name}: expected dy of shape \(2, 3, 3, 3\), got"):
                layer.backward(np.ones(dy_shape))


def test_backward_after_a_refused_output_matches_the_batch_the_kernel_saw(rng):
    layer = built_dense()
    layer.forward(rng.standard_normal((2, 4)))
    layer.params["W"][0, 0] = np.inf
    with pytest.raises(NonFiniteError):
        layer.forward(rng.standard_normal((5, 4)))  # refused after the kernel cached the 5-sample batch
    layer.params["W"][0, 0] = 0.0
    with pytest.raises(ShapeError, match=r"expected dy of shape \(5, 3\)"):
        layer.backward(np.ones((2, 3)))  # the old batch size would index the new caches out of bounds
    assert layer.backward(np.ones((5, 3))).shape == (5, 4)
