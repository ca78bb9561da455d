"""Memory-layout helpers of the fast kernels: channels-last views, and outputs in an input's layout."""
from __future__ import annotations

import numpy as np

from handgrad.kernels.numba.buffers import empty


def channels_last(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` -> C-contiguous ``(N, H, W, C)``: a view when ``x`` is channels-last in memory, else a copy."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def memory_order(a: np.ndarray):
    """Axis permutation ``p`` such that ``a.transpose(p)`` is C-contiguous, or None if ``a`` is not dense."""
    p = tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))
    return p if a.transpose(p).flags.c_contiguous else None


def flat_like(a: np.ndarray, order):
    """``(out, a_flat, out_flat)``: a new array with ``a``'s memory layout, and 1-D views of both in memory order."""
    out_flat = empty((a.size,), a.dtype)
    shape_in_order = tuple(a.shape[i] for i in order)
    out = out_flat.reshape(shape_in_order).transpose(np.argsort(order))  # a's shape, a's memory layout
    return out, a.transpose(order).reshape(-1), out_flat


def dense(a: np.ndarray):
    """``(a, order)`` with ``a`` dense in memory (a C-contiguous copy when it was not)."""
    order = memory_order(a)
    if order is None:
        a = np.ascontiguousarray(a)
        order = tuple(range(a.ndim))
    return a, order
