"""Softmax cross-entropy, the data loss of every classifier here."""
from __future__ import annotations

import numpy as np

from handgrad.errors import ArgumentError, ArgumentTypeError, ShapeError


def check_labels(labels, n: int, num_classes: int) -> np.ndarray:
    """Integer class labels of shape ``(n,)`` with values in ``[0, num_classes)``, or a clear error.

    Raises ``ShapeError`` (not an array of shape ``(n,)``), ``ArgumentTypeError`` (not an integer dtype: float
    labels such as ``1.0`` and booleans are refused) or ``ArgumentError`` (a value outside the range; the
    message gives the first one and how many there are).
    """
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ShapeError(f"labels: expected an array of shape ({n},), got a {type(labels).__name__} NumPy cannot "
                         f"convert: {e}") from None
    if labels.shape != (n,):
        raise ShapeError(f"labels: expected shape ({n},) to match the batch, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ArgumentTypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        raise ArgumentError(f"labels: expected values in [0, {num_classes}), got {labels[outside][0]} "
                            f"({np.count_nonzero(outside)} of {n} outside)")
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
    if np.ndim(logits) != 2 or np.shape(logits)[1] < 1:
        raise ShapeError(f"softmax_cross_entropy: expected logits of shape (N, K), got {np.shape(logits)}")
    N, K = logits.shape
    labels = check_labels(labels, N, K)
    logp = log_softmax(logits)
    rows = np.arange(N)
    loss = -float(np.sum(logp[rows, labels], dtype=np.float64)) / N
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    dlogits /= dlogits.dtype.type(N)
    return loss, dlogits


def multiclass_hinge(scores: np.ndarray, labels, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge (SVM) loss and its gradient (the oracle of users' ``svm_loss``).

    ``L = (1/N) sum_n sum_{j != y_n} max(0, s[n, j] - s[n, y_n] + delta)``; with ``m[n, j] = 1`` where that
    margin is positive (``j != y_n``): ``dL/ds[n, j] = m[n, j] / N`` and ``dL/ds[n, y_n] = -sum_j m[n, j] / N``.
    PyTorch's ``F.multi_margin_loss`` is the same divided by ``K``.

    Shape: ``scores (N, K)``, ``labels (N,)`` -> ``(float, (N, K))``.
    """
    if np.ndim(scores) != 2 or np.shape(scores)[1] < 1:
        raise ShapeError(f"multiclass_hinge: expected scores of shape (N, K), got {np.shape(scores)}")
    N, K = scores.shape
    labels = check_labels(labels, N, K)
    rows = np.arange(N)
    margins = scores - scores[rows, labels][:, None] + delta  # (N, K)
    margins[rows, labels] = 0
    positive = margins > 0
    loss = float(np.sum(margins[positive], dtype=np.float64)) / N
    dscores = positive.astype(scores.dtype)
    dscores[rows, labels] = -positive.sum(axis=1)
    dscores /= dscores.dtype.type(N)
    return loss, dscores
