"""Conv2D beyond the layer registry (tests/layer_cases.py): the loop reference, float32, shapes, errors."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.kernels.conv_reference import conv_backward_loops, conv_forward_loops
from tests.layer_cases import CONV_CONFIGS


@pytest.mark.parametrize("shape,filters,kernel,stride,padding", CONV_CONFIGS)
def test_vectorized_matches_loop_reference(shape, filters, kernel, stride, padding, rng):
    layer = hg.Conv2D(filters, kernel, stride=stride, padding=padding)
    layer.build(shape[1:], rng=rng, dtype=np.float64)
    layer.params["b"] = rng.standard_normal(filters)
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    np.testing.assert_allclose(y, conv_forward_loops(x, layer.params["W"], layer.params["b"], layer.geometry),
                               rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    ref_dW, ref_db, ref_dx = conv_backward_loops(dy, x, layer.params["W"], layer.geometry)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], ref_dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], ref_db, rtol=1e-12, atol=1e-12)


def test_float32_by_default_and_close_to_float64(rng):
    layer = hg.Conv2D(4, 3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.params["W"].dtype == np.float32
    ref = conv_forward_loops(x.astype(np.float64), layer.params["W"].astype(np.float64),
                             layer.params["b"].astype(np.float64), layer.geometry)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_output_shapes_follow_the_formula():
    assert hg.Conv2D(8, 5, padding="same").build((3, 28, 28)) == (8, 28, 28)
    assert hg.Conv2D(8, 5, padding="valid").build((3, 28, 28)) == (8, 24, 24)
    assert hg.Conv2D(8, 3, stride=2, padding="same").build((3, 7, 7)) == (8, 4, 4)  # ceil(7 / 2)
    assert hg.Conv2D(8, 3, stride=2, padding=1).build((3, 7, 8)) == (8, 4, 4)


def test_no_input_gradient_when_not_requested(rng):
    layer = hg.Conv2D(2, 3)
    y = layer.forward(rng.standard_normal((1, 1, 5, 5)))
    assert layer.backward(np.ones_like(y), input_grad=False) is None
    assert layer.grads["W"].shape == (2, 1, 3, 3)


@pytest.mark.parametrize("kwargs,message", [
    ({"filters": 0, "kernel_size": 3}, "Conv2D: filters must be >= 1, got 0"),
    ({"filters": 4, "kernel_size": (3, 3, 3)}, "kernel_size must be an int or a pair"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, "padding must be 'same', 'valid'"),
    ({"filters": 4, "kernel_size": 3, "activation": "softplus"}, "unknown activation 'softplus'"),
    ({"filters": 4, "kernel_size": 3, "kernel_regularizer": "l3"}, "unknown regularizer 'l3'"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(")", r"\)")):
        hg.Conv2D(**kwargs)


def test_kernel_larger_than_input_is_a_build_error_naming_the_layer():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 5\) with padding 'valid' does not fit"):
        hg.Conv2D(4, 5, padding="valid").build((1, 3, 3))
