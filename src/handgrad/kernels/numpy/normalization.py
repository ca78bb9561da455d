"""Standardization over the last axis, the shared step of LayerNorm and GroupNorm (NumPy).

Each layer reshapes its input so that the values normalized together lie along the last axis (``M`` of
them), e.g. ``(N, C, H, W) -> (N, G, C/G*H*W)`` for GroupNorm, then calls these two functions.

Forward, with ``mu`` and ``var`` the mean and the *biased* variance over the last axis::

    xhat = (x - mu) * s,   s = 1 / sqrt(var + epsilon)

Backward, from ``dxhat = dL/dxhat`` (the layer multiplies ``dy`` by gamma first), with sums over the last
axis (``mu`` and ``var`` depend on every ``x`` of the row)::

    dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
"""
from __future__ import annotations

import numpy as np


def standardize(x: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """``(xhat, s)``: ``x`` standardized over its last axis, and ``s = 1/sqrt(var + epsilon)`` of shape
    ``(..., 1)``."""
    mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)  # biased, as every framework normalizes
    inv_std = 1 / np.sqrt(var + x.dtype.type(epsilon))
    return centered * inv_std, inv_std


def standardize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
    """dL/dx from dL/dxhat through ``standardize`` (the formula in the module docstring)."""
    M = dxhat.dtype.type(dxhat.shape[-1])
    total = dxhat.sum(axis=-1, keepdims=True)
    projected = np.sum(dxhat * xhat, axis=-1, keepdims=True)
    return inv_std / M * (M * dxhat - total - xhat * projected)
