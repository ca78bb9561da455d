"""clip_by_global_norm against torch.nn.utils.clip_grad_norm_."""
import re

import numpy as np
import pytest
import torch

from handgrad.optim import clip_by_global_norm, global_norm

SHAPES = {"conv2d.W": (4, 3, 3, 3), "conv2d.b": (4,), "dense.W": (10, 5), "dense.b": (5,)}


def make_grads(scale, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {n: (scale * rng.normal(size=s)).astype(dtype) for n, s in SHAPES.items()}


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])  # clipped hard, clipped a little, untouched
def test_matches_torch(max_norm):
    grads = make_grads(0.3)
    tgrads = [torch.tensor(g) for g in grads.values()]
    ps = [torch.zeros_like(g, requires_grad=True) for g in tgrads]
    for p, g in zip(ps, tgrads):
        p.grad = g.clone()
    torch_norm = float(torch.nn.utils.clip_grad_norm_(ps, max_norm, foreach=False))
    norm = clip_by_global_norm(grads, max_norm)
    assert norm == pytest.approx(torch_norm, rel=1e-13)
    for g, p in zip(grads.values(), ps):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-13, atol=0)


def test_closed_form():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}  # global norm 5
    assert clip_by_global_norm(grads, 1.0) == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_array_equal(grads["a"], np.array([3.0, 0.0]) * scale)
    np.testing.assert_array_equal(grads["b"], np.array([[4.0]]) * scale)
    assert global_norm(grads) < 1.0


def test_below_max_norm_is_untouched():
    grads = make_grads(0.01)
    before = {n: g.copy() for n, g in grads.items()}
    clip_by_global_norm(grads, 100.0)
    assert all(np.array_equal(grads[n], before[n]) for n in grads)


def test_float32_in_place():
    grads = make_grads(1.0, np.float32)
    ids = {n: id(g) for n, g in grads.items()}
    norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(global_norm(make_grads(1.0, np.float64)), rel=1e-5)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert {n: id(g) for n, g in grads.items()} == ids
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_zero_and_non_finite_gradients():
    zeros = {"a": np.zeros(3)}
    assert clip_by_global_norm(zeros, 1.0) == 0.0 and np.array_equal(zeros["a"], np.zeros(3))
    bad = {"a": np.array([np.inf, 1.0])}
    assert clip_by_global_norm(bad, 1.0) == np.inf
    np.testing.assert_array_equal(bad["a"], [np.inf, 1.0])  # left for the caller to notice


@pytest.mark.parametrize("max_norm, error, message", [
    (0.0, ValueError, "clip_by_global_norm: max_norm must be > 0, got 0.0"),
    (float("nan"), ValueError, "clip_by_global_norm: max_norm must be finite, got nan"),
    (None, TypeError, "clip_by_global_norm: max_norm must be a number, got None (NoneType)"),
])
def test_rejects_bad_max_norm(max_norm, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        clip_by_global_norm({"a": np.ones(2)}, max_norm)
