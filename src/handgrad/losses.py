"""Softmax cross-entropy, the data loss of every classifier here."""
from __future__ import annotations

import numpy as np

from handgrad._validation import ShapeError


def check_labels(labels, n: int, num_classes: int) -> np.ndarray:
    """Integer class labels of shape ``(n,)`` with values in ``[0, num_classes)``, or a clear error."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ShapeError(f"labels: expected shape ({n},) to match the batch, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"labels: expected values in [0, {num_classes}), got {bad}")
    return labels


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``logits - logsumexp(logits)`` along the last axis, shifted by the row maximum to avoid overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, labels) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels, and its gradient.

    ``L = -(1/N) sum_n log softmax(logits)[n, y_n]``; ``dL/dlogits = (softmax(logits) - onehot(y)) / N``.

    Shape: ``logits (N, K)``, ``labels (N,)`` -> ``(float, (N, K))``.
    """
    N, K = logits.shape
    labels = check_labels(labels, N, K)
    logp = log_softmax(logits)
    rows = np.arange(N)
    loss = -float(np.sum(logp[rows, labels], dtype=np.float64)) / N
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    dlogits /= dlogits.dtype.type(N)
    return loss, dlogits
