"""The whole reference network, every loss term and every gradient, against PyTorch autograd."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handgrad.models import reference_cnn
from tests.torch_oracle import t


def torch_reference(params, x, y, weight_l1, weight_l2, activity_l1, activity_l2, activity_on):
    """The same network and loss in PyTorch, written from the definitions (Keras semantics)."""
    N = x.shape[0]
    P = {k: t(v, grad=True) for k, v in params.items()}
    def R(z, l1, l2):
        return l1 * z.abs().sum() + l2 * (z ** 2).sum()
    activity = 0.0
    h = t(x)
    for conv in ("conv2d", "conv2d_1"):
        a = F.conv2d(h, P[f"{conv}.W"], P[f"{conv}.b"], padding=2)
        e = F.elu(a)
        activity = activity + R(a if activity_on == "pre" else e, activity_l1, activity_l2) / N
        h = F.max_pool2d(e, 2)
    h = F.elu(h.flatten(1) @ P["dense.W"] + P["dense.b"])
    logits = h @ P["dense_1.W"] + P["dense_1.b"]
    data = F.cross_entropy(logits, torch.tensor(y))
    weight = sum(R(P[k], weight_l1, weight_l2) for k in P if k.endswith(".W"))
    total = data + weight + activity
    total.backward()
    terms = {name: float(v.detach()) if torch.is_tensor(v) else float(v)
             for name, v in (("data", data), ("weight", weight), ("activity", activity), ("total", total))}
    return terms, {k: p.grad.numpy() for k, p in P.items()}


@pytest.mark.parametrize("activity_on", ["pre", "post"])
@pytest.mark.parametrize("weight_l1,weight_l2,activity_l1,activity_l2", [
    (0.0, 1e-3, 0.0, 1e-3), (1e-3, 0.0, 1e-3, 0.0), (1e-4, 1e-3, 1e-4, 1e-2), (0.0, 0.0, 0.0, 0.0)])
def test_every_term_and_gradient_matches_torch(activity_on, weight_l1, weight_l2, activity_l1, activity_l2, rng):
    model = reference_cnn(input_shape=(1, 16, 16), weight_l1=weight_l1, weight_l2=weight_l2,
                          activity_l1=activity_l1, activity_l2=activity_l2, activity_on=activity_on, seed=3,
                          dtype=np.float64)
    for p in model.parameters().values():  # non-zero biases so that bias gradients are exercised fully
        p += 0.05 * rng.standard_normal(p.shape)
    x, y = rng.standard_normal((5, 1, 16, 16)), np.array([0, 3, 9, 3, 5])
    terms, grads = model.loss(x, y, training=False)
    expected_terms, expected_grads = torch_reference(model.parameters(), x, y, weight_l1, weight_l2, activity_l1,
                                                     activity_l2, activity_on)
    for name, value in expected_terms.items():
        assert getattr(terms, name) == pytest.approx(value, rel=1e-12, abs=1e-15), name
    assert set(grads) == set(expected_grads)
    for key, g in expected_grads.items():
        np.testing.assert_allclose(grads[key], g, rtol=1e-10, atol=1e-14 * np.abs(g).max(), err_msg=key)


def test_float32_model_agrees_with_torch_to_float32_precision(rng):
    model = reference_cnn(weight_l2=1e-3, activity_l2=1e-3, seed=5)
    x, y = rng.standard_normal((8, 1, 28, 28)).astype(np.float32), np.arange(8)
    terms, grads = model.loss(x, y, training=False)
    expected_terms, expected_grads = torch_reference(model.parameters(), x, y, 0.0, 1e-3, 0.0, 1e-3, "pre")
    assert terms.total == pytest.approx(expected_terms["total"], rel=1e-5)
    for key, g in expected_grads.items():
        np.testing.assert_allclose(grads[key], g, rtol=1e-3, atol=1e-4 * np.abs(g).max(), err_msg=key)
