import numpy as np
import pytest
import torch

import handgrad as hg
from handgrad.gradcheck import check_layer
from tests.torch_oracle import activation as torch_activation
from tests.torch_oracle import t


@pytest.mark.parametrize("activation", [None, "elu", "relu", "tanh", "sigmoid", "leaky_relu"])
def test_finite_differences(activation, rng):
    layer = hg.Dense(5, activation=activation, kernel_regularizer=hg.L1L2(0.01, 0.02),
                     bias_regularizer=hg.L1(0.03), activity_regularizer=hg.L2(0.05))
    report = check_layer(layer, rng.standard_normal((4, 7)), verbose=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("activation", [None, "elu", "tanh"])
def test_matches_torch(activation, rng):
    layer = hg.Dense(6, activation=activation)
    layer.build((9,), rng=rng, dtype=np.float64)
    layer.params["b"] = rng.standard_normal(6)
    x = rng.standard_normal((5, 9))
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    X, W, b = t(x, True), t(layer.params["W"], True), t(layer.params["b"], True)
    linear = torch.nn.functional.linear(X, W.T, b)  # torch's Linear.weight is W.T
    Y = linear if activation is None else torch_activation(linear, layer.activation)
    Y.backward(t(dy))
    np.testing.assert_allclose(y, Y.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, X.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.grads["W"], W.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_without_bias_has_no_b(rng):
    layer = hg.Dense(3, use_bias=False)
    layer.forward(rng.standard_normal((2, 4)))
    assert set(layer.params) == {"W"}
    assert check_layer(layer, rng.standard_normal((2, 4)), verbose=False).passed


def test_needs_a_flat_input():
    expected = (r"dense: Dense expects a flat per-sample input \(features,\), got \(3, 4, 4\); "
                r"put a Flatten layer before it")
    with pytest.raises(ValueError, match=expected):
        hg.Dense(4).build((3, 4, 4))

