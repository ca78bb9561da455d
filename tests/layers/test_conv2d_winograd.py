"""Conv2D(algorithm=...): Winograd layers against finite differences and PyTorch; the argument and "auto"."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer
from handgrad.kernels import backend, conv_algorithm
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.kernels.numba import winograd as winograd_fast
from handgrad.kernels.numpy import winograd
from tests.torch_oracle import conv2d as torch_conv2d
from tests.torch_oracle import t

CONFIGS = [  # (input (N, C, H, W), filters, kernel, padding)
    ((2, 3, 7, 6), 4, 5, "same"),
    ((2, 2, 8, 9), 3, 5, "valid"),
    ((2, 3, 6, 9), 4, 3, "same"),
    ((1, 2, 7, 5), 3, 3, "valid"),
]


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("shape,filters,kernel,padding", CONFIGS)
def test_finite_differences(shape, filters, kernel, padding, kernels, rng):
    """eps = 1e-5: Winograd's float64 rounding (up to ~35x im2col's, see kernels.winograd) divided by eps = 1e-6
    reached the 1e-7 tolerance on small entries; central differences err by O(eps^2) = 1e-10 at 1e-5."""
    layer = hg.Conv2D(filters, kernel, padding=padding, activation="elu", algorithm="winograd",
                      kernel_regularizer=hg.L2(0.02), activity_regularizer=hg.L1L2(0.01, 0.05))
    with backend.using_kernels(kernels):
        report = check_layer(layer, rng.standard_normal(shape), eps=1e-5, verbose=False)
    assert report.passed, str(report)
    assert report.parameters == ["x", "W", "b"]


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("shape,filters,kernel,padding", CONFIGS)
def test_matches_torch(shape, filters, kernel, padding, kernels, rng):
    layer = hg.Conv2D(filters, kernel, padding=padding, algorithm="winograd")
    layer.build(shape[1:], rng=rng, dtype=np.float64)
    layer.params["b"] = rng.standard_normal(filters)
    x = rng.standard_normal(shape)
    with backend.using_kernels(kernels):
        y = layer.forward(x)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
    X = t(x, grad=True)
    P = {k: t(v, grad=True) for k, v in layer.params.items()}
    Y = torch_conv2d(X, layer, P)
    Y.backward(t(dy))
    np.testing.assert_allclose(y, Y.detach().numpy(), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(dx, X.grad.numpy(), rtol=1e-11, atol=1e-11)
    for k in P:
        np.testing.assert_allclose(layer.grads[k], P[k].grad.numpy(), rtol=1e-11, atol=1e-11)


def test_float32_layer_close_to_im2col_layer(rng):
    """Same weights, float32: the two algorithms agree within Winograd's error (tested exactly in tests/kernels)."""
    x = rng.standard_normal((4, 32, 14, 14)).astype(np.float32)
    layers = [hg.Conv2D(64, 5, algorithm=a) for a in ("im2col", "winograd")]
    for layer in layers:
        layer.build(x.shape[1:], rng=np.random.default_rng(0))
    y_im2col, y_winograd = (layer.forward(x, training=True) for layer in layers)
    assert y_winograd.dtype == np.float32
    np.testing.assert_allclose(y_winograd, y_im2col, rtol=0, atol=1e-5 * np.abs(y_im2col).max())
    dy = rng.standard_normal(y_im2col.shape).astype(np.float32)
    dx_im2col, dx_winograd = (layer.backward(dy) for layer in layers)
    np.testing.assert_allclose(dx_winograd, dx_im2col, rtol=0, atol=1e-4 * np.abs(dx_im2col).max())
    np.testing.assert_allclose(layers[1].grads["W"], layers[0].grads["W"], rtol=0,
                               atol=1e-4 * np.abs(layers[0].grads["W"]).max())


# ---------------------------------------------------------------------------------------------- the argument
@pytest.mark.parametrize("channels,kernels,expected", [
    (3, "numba", "im2col"), (32, "numba", "winograd"), (32, "numpy", "im2col")])
def test_default_is_auto(channels, kernels, expected, rng):
    layer = hg.Conv2D(4, 5)
    assert layer.algorithm == "auto"
    with backend.using_kernels(kernels):
        layer.build((channels, 8, 8), rng=rng)
        assert layer.conv_algorithm == expected


@pytest.mark.parametrize("kwargs,message", [
    ({"kernel_size": 3, "stride": 2}, r"conv2d: algorithm='winograd' needs stride 1 and a 3x3 or 5x5 kernel, got "
                                      r"kernel_size \(3, 3\) and stride \(2, 2\)"),
    ({"kernel_size": (3, 5)}, r"got kernel_size \(3, 5\) and stride \(1, 1\)"),
    ({"kernel_size": 7, "name": "big"}, r"big: algorithm='winograd' needs .* got kernel_size \(7, 7\)"),
])
def test_winograd_for_an_unsupported_geometry_names_the_layer(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hg.Conv2D(4, algorithm="winograd", **kwargs)


def test_unknown_algorithm_lists_the_choices():
    with pytest.raises(ValueError, match=r"conv2d: algorithm must be one of 'auto', 'im2col', 'winograd', got 'fft'"):
        hg.Conv2D(4, 3, algorithm="fft")


def test_algorithm_settable_and_validated_after_construction(rng):
    layer = hg.Conv2D(4, 3, stride=2, name="c")
    with pytest.raises(ValueError, match="c: algorithm='winograd' needs stride 1"):
        layer.algorithm = "winograd"
    assert layer.algorithm == "auto"
    layer = hg.Conv2D(4, 3, algorithm="im2col")
    x = rng.standard_normal((2, 3, 6, 6))
    y_im2col = layer.forward(x)
    layer.algorithm = "winograd"
    np.testing.assert_allclose(layer.forward(x), y_im2col, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("input_shape,kernel,stride,kernels,expected", [
    ((32, 14, 14), 5, 1, "numba", "winograd"),  # the reference network's conv2
    ((32, 8, 8), 3, 1, "numba", "winograd"),
    ((16, 14, 14), 5, 1, "numba", "winograd"),
    ((8, 14, 14), 5, 1, "numba", "im2col"),  # measured no faster with Winograd
    ((1, 28, 28), 5, 1, "numba", "im2col"),  # conv1: too few channels
    ((3, 32, 32), 5, 1, "numba", "im2col"),
    ((32, 14, 14), 5, 2, "numba", "im2col"),  # stride 2: no transform
    ((32, 14, 14), 7, 1, "numba", "im2col"),
    ((32, 14, 14), 5, 1, "numpy", "im2col"),  # the NumPy Winograd is a reference, not a fast path
])
def test_auto_rule(input_shape, kernel, stride, kernels, expected):
    layer = hg.Conv2D(8, kernel, stride=stride, algorithm="auto")
    with pytest.raises(ValueError, match="conv2d: algorithm='auto' is resolved when the layer is built"):
        _ = layer.conv_algorithm
    layer.build(input_shape)
    with backend.using_kernels(kernels):
        assert layer.conv_algorithm == expected
    assert input_shape[0] >= conv_algorithm.AUTO_MIN_CHANNELS or expected == "im2col"


def test_backend_picks_the_winograd_kernel_set():
    g = conv_geometry(8, 8, (3, 3), (1, 1), "same")
    x, W = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 3, 3))
    for kernels, module in (("numpy", winograd), ("numba", winograd_fast)):
        with backend.using_kernels(kernels):
            _, (backward, _) = backend.active().conv2d_forward(x, W, None, g, "winograd")
        assert backward is module.conv2d_backward
