"""Batch normalization's array work (NumPy): per channel over the batch, ``x`` of shape ``(N, C, ...)``.

Forward, with ``mu`` and ``var`` the mean and the *biased* variance (divided by ``M``, the number of values per
channel: ``N`` for ``(N, C)``, ``N*H*W`` for ``(N, C, H, W)``) of the batch, or the moving statistics given::

    xhat = (x - mu) * s,   s = 1 / sqrt(var + epsilon),   y = gamma * xhat + beta

Backward, with sums over the ``M`` values of a channel::

    dbeta = sum(dy)        dgamma = sum(dy * xhat)
    batch statistics:  dx = gamma * s / M * (M * dy - dbeta - xhat * dgamma)   (mu and var depend on x)
    given statistics:  dx = gamma * s * dy
"""
from __future__ import annotations

import numpy as np


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,)`` -> broadcastable against ``(N, C, ...)`` of ``ndim`` dimensions."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float, statistics=None):
    """``(y, mean, var, cache)``: ``y`` like ``x``; ``mean``, ``var`` of shape ``(C,)`` in ``x``'s dtype, the batch's
    (``statistics`` None: training) or ``statistics = (mean, var)`` as given (inference)."""
    axes = (0, *range(2, x.ndim))
    if statistics is None:
        mean = x.mean(axis=axes)  # (C,)
        centered = x - _channel(mean, x.ndim)
        var = np.mean(centered * centered, axis=axes)  # (C,), biased: the variance that normalizes
    else:
        mean, var = statistics
        centered = x - _channel(mean, x.ndim)
    inv_std = 1 / np.sqrt(var + x.dtype.type(epsilon))  # (C,)
    xhat = centered * _channel(inv_std, x.ndim)
    y = xhat * _channel(gamma, x.ndim) + _channel(beta, x.ndim)
    return y, mean, var, (xhat, inv_std, statistics is None)


def batch_norm_backward(dy: np.ndarray, cache, gamma: np.ndarray, input_grad: bool = True):
    """``(dgamma, dbeta, dx)`` (``dx`` None without ``input_grad``) of ``batch_norm_forward``'s ``cache``."""
    xhat, inv_std, batch_statistics = cache
    axes = (0, *range(2, dy.ndim))
    dbeta = dy.sum(axis=axes)  # (C,)
    dgamma = np.sum(dy * xhat, axis=axes)  # (C,)
    if not input_grad:
        return dgamma, dbeta, None
    scale = _channel(gamma * inv_std, dy.ndim)
    if not batch_statistics:
        return dgamma, dbeta, dy * scale
    M = dy.dtype.type(dy.size // dbeta.size)  # values per channel
    dx = scale / M * (M * dy - _channel(dbeta, dy.ndim) - xhat * _channel(dgamma, dy.ndim))
    return dgamma, dbeta, dx
