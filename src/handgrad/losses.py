"""Softmax cross-entropy, the data loss of every classifier here."""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_number
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


def softmax_cross_entropy(logits: np.ndarray, labels, label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against (optionally smoothed) integer labels, and its gradient.

    Args:
        logits: class scores.
        labels: integer class indices in ``[0, K)``.
        label_smoothing: ``eps`` in ``[0, 1)`` (default 0: plain one-hot targets).

    With the target ``q[n] = (1 - eps) * onehot(y_n) + eps / K`` (PyTorch's
    ``CrossEntropyLoss(label_smoothing=eps)``, exactly):
    ``L = -(1/N) sum_n sum_k q[n, k] log softmax(logits)[n, k]`` and ``dL/dlogits = (softmax(logits) - q) / N``.
    ``eps = 0`` is ``L = -(1/N) sum_n log softmax(logits)[n, y_n]``, computed as before (bit for bit).

    Shape: ``logits (N, K)``, ``labels (N,)`` -> ``(float, (N, K))``.
    """
    if np.ndim(logits) != 2 or np.shape(logits)[1] < 1:
        raise ShapeError(f"softmax_cross_entropy: expected logits of shape (N, K), got {np.shape(logits)}")
    eps = check_number("softmax_cross_entropy", "label_smoothing", label_smoothing, minimum=0.0, maximum=1.0,
                       strict_max=True)
    N, K = logits.shape
    labels = check_labels(labels, N, K)
    logp = log_softmax(logits)
    rows = np.arange(N)
    picked = float(np.sum(logp[rows, labels], dtype=np.float64))
    dlogits = np.exp(logp)
    if eps == 0.0:
        loss = -picked / N
        dlogits[rows, labels] -= 1
    else:
        # sum_k q[n, k] logp[n, k] = (1 - eps) logp[n, y_n] + (eps / K) sum_k logp[n, k]
        loss = -((1.0 - eps) * picked + (eps / K) * float(np.sum(logp, dtype=np.float64))) / N
        dlogits -= dlogits.dtype.type(eps / K)
        dlogits[rows, labels] -= dlogits.dtype.type(1.0 - eps)
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
