"""minibatches(): every sample once per pass, order from the given generator only, drop_last."""
from __future__ import annotations

import numpy as np
import pytest

from handgrad.datasets import RandomCropFlip, minibatches, num_batches


def _data(n=103):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return x, np.arange(n)


@pytest.mark.parametrize("shuffle", [True, False])
def test_each_sample_exactly_once_and_pairs_kept(shuffle):
    x, y = _data()
    seen = []
    for xb, yb in minibatches(x, y, 16, rng=np.random.default_rng(0), shuffle=shuffle):
        np.testing.assert_array_equal(xb, x[yb])  # x and y stay paired
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(103))
    assert (seen == list(range(103))) is (not shuffle)
    assert [len(yb) for _, yb in minibatches(x, y, 16, rng=np.random.default_rng(0))] == [16] * 6 + [7]


def test_order_is_rng_permutation_and_reproducible():
    x, y = _data()
    order = np.concatenate([yb for _, yb in minibatches(x, y, 10, rng=np.random.default_rng((7, 3)))])
    np.testing.assert_array_equal(order, np.random.default_rng((7, 3)).permutation(103))  # reference
    again = np.concatenate([yb for _, yb in minibatches(x, y, 10, rng=np.random.default_rng((7, 3)))])
    other = np.concatenate([yb for _, yb in minibatches(x, y, 10, rng=np.random.default_rng((7, 4)))])
    np.testing.assert_array_equal(order, again)
    assert not np.array_equal(order, other)


def test_drop_last():
    x, y = _data()
    batches = list(minibatches(x, y, 16, rng=np.random.default_rng(0), drop_last=True))
    assert [len(yb) for _, yb in batches] == [16] * 6
    assert len(set(np.concatenate([yb for _, yb in batches]).tolist())) == 96


@pytest.mark.parametrize("n, b", [(0, 3), (1, 1), (5, 5), (6, 5), (103, 16), (128, 16), (7, 100)])
@pytest.mark.parametrize("drop_last", [True, False])
def test_num_batches_matches_what_minibatches_yields(n, b, drop_last):
    x, y = np.zeros((n, 1)), np.zeros(n)
    count = sum(1 for _ in minibatches(x, y, b, shuffle=False, drop_last=drop_last))
    assert num_batches(n, b, drop_last) == count == (n // b if drop_last else -(-n // b))


def test_augment_receives_the_same_rng_after_the_permutation():
    x = np.random.default_rng(0).random((20, 1, 6, 6), dtype=np.float32)
    y = np.arange(20)
    aug = RandomCropFlip(padding=2)
    got = list(minibatches(x, y, 8, rng=np.random.default_rng(9), augment=aug))
    rng = np.random.default_rng(9)  # reference: the same draws, by hand, in the documented order
    order = rng.permutation(20)
    for k, (xb, yb) in enumerate(got):
        idx = order[k * 8:(k + 1) * 8]
        np.testing.assert_array_equal(yb, idx)
        np.testing.assert_array_equal(xb, aug(x[idx], rng))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"rng": None}, TypeError, "rng must be a np.random.Generator when shuffle=True"),
    ({"rng": np.random.RandomState(0)}, TypeError, "rng must be a np.random.Generator"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
    ({"y": np.zeros(5)}, ValueError, r"same length, got shapes \(103, 1, 2, 2\) and \(5,\)"),
    ({"augment": "flip"}, TypeError, "augment must be None or callable"),
])
def test_bad_arguments_fail_at_the_call(kwargs, error, message):
    x, y = _data()
    args = {"x": x, "y": y, "batch_size": 8, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(error, match=message):
        minibatches(**args)  # no next(): errors are raised when the generator is created
