"""BatchNorm2D and BatchNorm1D beyond the layer registry (tests/layer_cases.py: finite differences in both
modes, one step against ``F.batch_norm``): several training steps and the moving statistics, defaults, float32."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import handgrad as hg
from tests.layer_cases import cases
from tests.torch_oracle import t

SHAPES = {cls: cases(cls)[0].shape for cls in (hg.BatchNorm2D, hg.BatchNorm1D)}  # the registry's cases


def built(cls, rng, dtype=np.float64, **kwargs):
    """The registry's layer with non-trivial gamma, beta and moving statistics (so every term of the formulas
    matters), in ``dtype``."""
    case = cases(cls)[0]
    layer = case.make(**kwargs)
    layer.build(SHAPES[cls][1:], dtype=dtype)
    case.prepare(layer, rng)
    return layer


def batch(cls, rng, dtype=np.float64):
    return cases(cls)[0].data(rng, SHAPES[cls]).astype(dtype)  # mean and scale far from 0 and 1


def torch_batch_norm(layer, x, dy, training, running_mean, running_var):
    """``(y, dx, dgamma, dbeta)`` from ``F.batch_norm`` with the layer's parameters; updates the running
    statistics in place when training (momentum converted: PyTorch's is ``1 - momentum``)."""
    xt, gamma, beta = t(x, grad=True), t(layer.params["gamma"], grad=True), t(layer.params["beta"], grad=True)
    y = F.batch_norm(xt, running_mean, running_var, gamma, beta, training=training, momentum=1 - layer.momentum,
                     eps=layer.epsilon)
    y.backward(t(dy))
    return y.detach().numpy(), xt.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()


@pytest.mark.parametrize("cls", [hg.BatchNorm2D, hg.BatchNorm1D])
def test_training_steps_then_inference_match_torch(cls, rng):
    """Four training steps (outputs, all gradients, moving statistics), then an inference pass."""
    layer = built(cls, rng, momentum=0.9)
    running_mean = torch.tensor(layer.state["moving_mean"].copy())
    running_var = torch.tensor(layer.state["moving_variance"].copy())
    expected_var = layer.state["moving_variance"].copy()  # the biased-variance recursion, from torch's variance
    axes = (0, 2, 3) if cls is hg.BatchNorm2D else (0,)
    for step in range(4):
        x = batch(cls, rng)
        dy = rng.standard_normal(x.shape)
        y = layer.forward(x, training=True)
        dx = layer.backward(dy)
        ty, tdx, tdgamma, tdbeta = torch_batch_norm(layer, x, dy, True, running_mean, running_var)
        np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, tdx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["gamma"], tdgamma, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["beta"], tdbeta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.state["moving_mean"], running_mean.numpy(), rtol=1e-12, atol=1e-14)
        # PyTorch updates running_var with the unbiased variance (M / (M - 1) times the batch's); Keras and
        # handgrad with the biased variance that normalized the batch.
        biased = torch.var(t(x), dim=axes, unbiased=False).numpy()
        expected_var = 0.9 * expected_var + 0.1 * biased
        np.testing.assert_allclose(layer.state["moving_variance"], expected_var, rtol=1e-12)
        assert not np.allclose(layer.state["moving_variance"], running_var.numpy(), rtol=1e-6), step
    running_var = torch.tensor(layer.state["moving_variance"].copy())  # same statistics for inference
    x, dy = batch(cls, rng), rng.standard_normal(SHAPES[cls])
    before = {k: v.copy() for k, v in layer.state.items()}
    y = layer.forward(x, training=False)
    dx = layer.backward(dy)
    ty, tdx, tdgamma, tdbeta = torch_batch_norm(layer, x, dy, False, running_mean, running_var)
    for got, want in ((y, ty), (dx, tdx), (layer.grads["gamma"], tdgamma), (layer.grads["beta"], tdbeta)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for k, v in before.items():  # inference leaves the moving statistics alone
        np.testing.assert_array_equal(layer.state[k], v)


def test_keras_defaults_and_initial_values():
    layer = hg.BatchNorm2D()
    layer.build((3, 4, 4))
    assert (layer.momentum, layer.epsilon, layer.name) == (0.99, 1e-3, "batch_norm2d")
    assert sorted(layer.params) == ["beta", "gamma"] and sorted(layer.state) == ["moving_mean", "moving_variance"]
    np.testing.assert_array_equal(layer.params["gamma"], np.ones(3, np.float32))
    np.testing.assert_array_equal(layer.state["moving_variance"], np.ones(3, np.float32))
    np.testing.assert_array_equal(layer.state["moving_mean"], np.zeros(3, np.float32))


def test_float32_training_pass_agrees_with_float64(rng):
    layer64 = built(hg.BatchNorm2D, rng)
    layer32 = built(hg.BatchNorm2D, np.random.default_rng(1234), dtype=np.float32)
    layer32.params = {k: v.astype(np.float32) for k, v in layer64.params.items()}
    x = batch(hg.BatchNorm2D, rng)
    y64 = layer64.forward(x, training=True)
    y32 = layer32.forward(x.astype(np.float32), training=True)
    assert y32.dtype == np.float32 and layer32.state["moving_mean"].dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    (dict(momentum=1.5), "BatchNorm2D: momentum must be <= 1.0, got 1.5"),
    (dict(epsilon=0.0), "BatchNorm2D: epsilon must be > 0.0, got 0.0"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hg.BatchNorm2D(**kwargs)


def test_wrong_input_rank_names_the_layer():
    with pytest.raises(hg.layers.base.ShapeError, match=r"batch_norm1d: BatchNorm1D expects per-sample input "
                                                        r"\(features,\), got \(3, 4, 4\)"):
        hg.Sequential([hg.BatchNorm1D(), hg.Flatten(), hg.Dense(2)], input_shape=(3, 4, 4))
