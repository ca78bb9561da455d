"""``losses.multiclass_hinge`` (the oracle of users' ``svm_loss``): PyTorch's ``multi_margin_loss`` times K, and
central differences of the loss in float64 away from the hinge's kinks."""
import numpy as np
import torch
import torch.nn.functional as F

from handgrad.losses import multiclass_hinge
from tests.torch_oracle import t


def scores_away_from_kinks(rng, N=6, K=5):
    """Scores whose margins ``s_j - s_y + 1`` are all at least 0.05 away from 0 (both signs present)."""
    while True:
        s, y = rng.standard_normal((N, K)), rng.integers(0, K, N)
        m = s - s[np.arange(N), y][:, None] + 1
        m[np.arange(N), y] = 1
        if np.abs(m).min() > 0.05 and (m < 0).any():
            return s, y


def test_matches_torch_times_k(rng):
    s, y = scores_away_from_kinks(rng)
    loss, ds = multiclass_hinge(s, y)
    st = t(s, grad=True)
    tl = F.multi_margin_loss(st, torch.tensor(y), margin=1.0) * s.shape[1]
    tl.backward()
    assert abs(loss - tl.item()) <= 1e-12 * max(1.0, abs(loss))
    np.testing.assert_allclose(ds, st.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_gradient_matches_central_differences(rng):
    s, y = scores_away_from_kinks(rng)
    _, ds = multiclass_hinge(s, y)
    numerical = np.zeros_like(s)
    for i in np.ndindex(s.shape):
        plus, minus = s.copy(), s.copy()
        plus[i] += 1e-6
        minus[i] -= 1e-6
        numerical[i] = (multiclass_hinge(plus, y)[0] - multiclass_hinge(minus, y)[0]) / 2e-6
    np.testing.assert_allclose(ds, numerical, rtol=1e-7, atol=1e-9)
