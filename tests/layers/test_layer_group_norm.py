"""LayerNorm and GroupNorm: finite differences in float64 and PyTorch's ``F.layer_norm`` / ``F.group_norm``
with identical weights; state-free; usable in a ``Sequential`` and a ``--model`` file."""
import numpy as np
import pytest
import torch.nn.functional as F

import handgrad as hg
from handgrad.gradcheck import check_layer, check_model
from handgrad.model_source import build
from tests.torch_oracle import t

CASES = {  # (layer factory, batch shape): distinct N, C, H, W so that an axis mix-up cannot pass
    "layer_norm_flat": (lambda: hg.LayerNorm(), (4, 7)),
    "layer_norm_image": (lambda: hg.LayerNorm(epsilon=1e-3), (3, 2, 5, 4)),
    "group_norm_2": (lambda: hg.GroupNorm(2), (3, 6, 5, 4)),
    "group_norm_1": (lambda: hg.GroupNorm(1), (2, 4, 3, 5)),
    "group_norm_instance": (lambda: hg.GroupNorm(4), (2, 4, 3, 5)),
    "group_norm_flat": (lambda: hg.GroupNorm(3), (5, 12)),
}


def built(name, rng, dtype=np.float64):
    """A layer with random gamma and beta (a gamma of ones hides a missing factor) and a batch whose mean and
    scale are far from 0 and 1."""
    factory, shape = CASES[name]
    layer = factory()
    layer.build(shape[1:], dtype=dtype)
    for key, p in layer.params.items():
        p[...] = rng.uniform(0.5, 2.0, p.shape) if key == "gamma" else rng.standard_normal(p.shape)
    return layer, (2.0 + 1.5 * rng.standard_normal(shape)).astype(dtype)


def torch_forward(layer, x):
    xt, gamma, beta = t(x, grad=True), t(layer.params["gamma"], grad=True), t(layer.params["beta"], grad=True)
    if isinstance(layer, hg.LayerNorm):
        y = F.layer_norm(xt, x.shape[1:], gamma, beta, eps=layer.epsilon)
    else:
        y = F.group_norm(xt, layer.groups, gamma, beta, eps=layer.epsilon)
    return xt, gamma, beta, y


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_finite_differences(name, training, rng):
    layer, x = built(name, rng)
    layer.activity_regularizer = hg.L2(1e-2)
    report = check_layer(layer, x, training=training, tol=1e-6, verbose=False)
    assert report.passed, str(report)
    assert report.parameters == ["x", "gamma", "beta"]
    assert report.get("x", "output").checked >= 20 and report.get("x", "output").max_rel_error < 1e-5


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch(name, rng):
    layer, x = built(name, rng)
    dy = rng.standard_normal(x.shape)
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    xt, gamma, beta, ty = torch_forward(layer, x)
    ty.backward(t(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.grads["gamma"], gamma.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["beta"], beta.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_free_same_in_both_modes(name, rng):
    layer, x = built(name, rng)
    assert layer.state == {}
    np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x, training=False))


def test_float32_agrees_with_float64(rng):
    layer64, x = built("group_norm_2", rng)
    layer32 = hg.GroupNorm(2)
    layer32.build(x.shape[1:])
    layer32.params = {k: v.astype(np.float32) for k, v in layer64.params.items()}
    y32 = layer32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, layer64.forward(x), rtol=1e-4, atol=1e-5)


def test_in_sequential_the_model_gradients_pass(rng):
    model = hg.Sequential([hg.Conv2D(4, 3), hg.GroupNorm(2), hg.ELU(), hg.Flatten(), hg.Dense(6), hg.LayerNorm(),
                           hg.ELU(), hg.Dense(3)], input_shape=(2, 5, 4), seed=0)
    x, y = rng.standard_normal((3, 2, 5, 4)), np.array([0, 2, 1])
    report = check_model(model, x, y, verbose=False)
    assert report.passed, str(report)
    assert {"group_norm.gamma", "layer_norm.beta"} <= set(report.parameters)


def test_usable_from_a_model_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("import handgrad as hg\n\n"
                    "def net(input_shape, num_classes):\n"
                    "    layers = [hg.Conv2D(4, 3), hg.GroupNorm(2), hg.ELU(), hg.Flatten(), hg.LayerNorm(),\n"
                    "              hg.Dense(num_classes)]\n"
                    "    return hg.Sequential(layers, input_shape=input_shape, seed=0)\n")
    model = build(path, "net", (1, 6, 6), 5)
    assert model.forward(np.zeros((2, 1, 6, 6), np.float32)).shape == (2, 5)


@pytest.mark.parametrize("make,message", [
    (lambda: hg.GroupNorm(0), "GroupNorm: groups must be >= 1, got 0"),
    (lambda: hg.LayerNorm(epsilon=0.0), "LayerNorm: epsilon must be > 0.0, got 0.0"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_groups_must_divide_the_channels():
    with pytest.raises(hg.errors.ShapeError, match=r"group_norm: groups=4 must divide the number of channels, "
                                                   r"got C = 6"):
        hg.Sequential([hg.GroupNorm(4), hg.Flatten(), hg.Dense(2)], input_shape=(6, 3, 3))
