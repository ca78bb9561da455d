"""Minibatches over a data set, shuffled by a caller-supplied generator only.

The trainer creates one ``np.random.Generator`` per epoch from ``(seed, epoch)``; since the permutation
(and the augmentation) draw from that generator alone, a resumed run sees exactly the same batches.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from handgrad._validation import check_int


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches per epoch: ``n // batch_size`` if ``drop_last`` else ``ceil(n / batch_size)``."""
    n = check_int("num_batches", "n", n, minimum=0)
    batch_size = check_int("num_batches", "batch_size", batch_size, minimum=1)
    return n // batch_size if drop_last else -(-n // batch_size)


def minibatches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                shuffle: bool = True, drop_last: bool = False, augment=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(xb, yb)`` covering each sample once per pass.

    Args:
        x: ``(N, ...)`` inputs; y: ``(N, ...)`` targets.
        batch_size: samples per batch; the last batch holds ``N % batch_size`` if that is not zero.
        rng: ``np.random.Generator``, required when ``shuffle`` or ``augment`` is set: the permutation is
            ``rng.permutation(N)``, drawn once, before the first batch, then ``augment`` draws from it.
        shuffle: visit samples in a random order (default True) instead of ``0 .. N-1``.
        drop_last: skip the last, smaller batch (default False).
        augment: None or a callable ``augment(xb, rng) -> new array`` applied to each ``xb``.

    Shape:
        ``xb``: ``(B, ...)``, ``yb``: ``(B, ...)`` with ``B = batch_size`` except possibly the last batch.
        Without shuffle or augment ``xb`` and ``yb`` are views of ``x`` and ``y``; with them, copies.
    """
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise TypeError(f"minibatches: x and y must be NumPy arrays, got {type(x).__name__} and {type(y).__name__}")
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"minibatches: x and y must have the same length, got shapes {x.shape} and {y.shape}")
    n_batches = num_batches(len(x), batch_size, drop_last)
    if not isinstance(shuffle, bool):
        raise TypeError(f"minibatches: shuffle must be a bool, got {shuffle!r}")
    if augment is not None and not callable(augment):
        raise TypeError(f"minibatches: augment must be None or callable(xb, rng), got {augment!r}")
    if (shuffle or augment is not None) and not isinstance(rng, np.random.Generator):
        raise TypeError(f"minibatches: rng must be a np.random.Generator when shuffle=True or augment is set "
                        f"(e.g. np.random.default_rng((seed, epoch))), got {rng!r}")
    return _iterate(x, y, batch_size, n_batches, rng, shuffle, augment)


def _iterate(x, y, batch_size, n_batches, rng, shuffle, augment):
    # A separate generator function so that argument errors raise at the call, not at the first next().
    order = rng.permutation(len(x)) if shuffle else None
    for b in range(n_batches):
        lo, hi = b * batch_size, min((b + 1) * batch_size, len(x))
        if order is None:
            xb, yb = x[lo:hi], y[lo:hi]
        else:
            idx = order[lo:hi]
            xb, yb = x[idx], y[idx]
        if augment is not None:
            xb = augment(xb, rng)
        yield xb, yb
