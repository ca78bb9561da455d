"""Batch normalization (the NumPy set's ``batch_norm``) as two passes over channels-last memory per direction.

The input is viewed as rows of channels, ``(R, C)`` with ``R = N*H*W`` (a view of a channels-last conv output,
a copy otherwise). The channels are cut into blocks of one cache line (16 float32, 8 float64); a task takes
whole blocks and runs both passes on them, so no task sums another's values: the result is the same bit for
bit whichever thread runs a block, and for any number of threads.

- Forward: pass 1 sums ``x - x[0]`` and its square in float64 (shifted, so the variance keeps its digits when
  the mean is large); pass 2 writes ``y = (x - mu) * (gamma * s) + beta``.
- Backward: pass 1 sums ``dy`` and ``dy * (x - mu)`` in float64 (``xhat`` is recomputed from the cached input,
  never stored); pass 2 writes ``dx = p * dy + r * (x - mu) + q`` with per-channel ``p, r, q`` from the
  formula of the NumPy set.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from handgrad.kernels import threads
from handgrad.kernels.numba import ops
from handgrad.kernels.numba.buffers import empty
from handgrad.kernels.numba.layout import channels_last

_U = np.uint64  # unsigned flat offsets (see loops)


@njit(nogil=True, cache=True)
def _statistics(x, c0, c1, mean, var):
    """``mean[c]``, biased ``var[c]`` (float64) of the columns ``c0 <= c < c1`` of ``x (R, C)``."""
    R, C = x.shape
    xf = x.reshape(-1)
    w = c1 - c0
    shift = np.empty(w)
    s1 = np.zeros(w)
    s2 = np.zeros(w)
    for j in range(w):
        shift[j] = xf[c0 + j]
    for r in range(R):
        o = _U(r * C + c0)
        for j in range(_U(w)):
            d = np.float64(xf[o + j]) - shift[j]
            s1[j] += d
            s2[j] += d * d
    for j in range(w):
        m = s1[j] / R
        mean[c0 + j] = shift[j] + m
        var[c0 + j] = max(s2[j] / R - m * m, 0.0)


@njit(nogil=True, cache=True)
def _normalize(x, mu, a, b, c0, c1, y):
    """``y[r, c] = (x[r, c] - mu[c]) * a[c] + b[c]`` for ``c0 <= c < c1``; ``x``, ``y`` ``(R, C)``."""
    R, C = x.shape
    xf = x.reshape(-1)
    yf = y.reshape(-1)
    w = c1 - c0
    m, s, t = mu[c0:c1].copy(), a[c0:c1].copy(), b[c0:c1].copy()  # the block's own: the inner loop vectorizes
    for r in range(R):
        o = _U(r * C + c0)
        for j in range(_U(w)):
            yf[o + j] = (xf[o + j] - m[j]) * s[j] + t[j]


@njit(nogil=True, cache=True)
def _gradient_sums(dy, x, mu, c0, c1, sdy, sdyx):
    """``sdy[c] = sum_r dy[r, c]``, ``sdyx[c] = sum_r dy[r, c] * (x[r, c] - mu[c])`` (float64), ``c0 <= c < c1``."""
    R, C = x.shape
    xf = x.reshape(-1)
    gf = dy.reshape(-1)
    w = c1 - c0
    m = mu[c0:c1].copy()
    s1 = np.zeros(w)
    s2 = np.zeros(w)
    for r in range(R):
        o = _U(r * C + c0)
        for j in range(_U(w)):
            g = gf[o + j]
            s1[j] += g
            s2[j] += g * (xf[o + j] - m[j])
    for j in range(w):
        sdy[c0 + j] = s1[j]
        sdyx[c0 + j] = s2[j]


@njit(nogil=True, cache=True)
def _input_gradient(dy, x, mu, p, q, rr, c0, c1, dx):
    """``dx[r, c] = p[c] * dy[r, c] + rr[c] * (x[r, c] - mu[c]) + q[c]`` for ``c0 <= c < c1``."""
    R, C = x.shape
    xf = x.reshape(-1)
    gf = dy.reshape(-1)
    df = dx.reshape(-1)
    w = c1 - c0
    m, pp, qq, rrr = mu[c0:c1].copy(), p[c0:c1].copy(), q[c0:c1].copy(), rr[c0:c1].copy()
    for r in range(R):
        o = _U(r * C + c0)
        for j in range(_U(w)):
            df[o + j] = pp[j] * gf[o + j] + rrr[j] * (xf[o + j] - m[j]) + qq[j]


def _rows(x: np.ndarray) -> np.ndarray:
    """``(N, C, ...)`` -> C-contiguous ``(R, C)``: a view of channels-last memory, else a copy."""
    if x.ndim == 2:
        return np.ascontiguousarray(x)
    return channels_last(x).reshape(-1, x.shape[1])


def _like(rows: np.ndarray, shape) -> np.ndarray:
    """``(R, C)`` -> the logical ``(N, C, ...)`` of ``shape``, channels last in memory."""
    if len(shape) == 2:
        return rows
    N, C, *spatial = shape
    return rows.reshape(N, *spatial, C).transpose(0, 3, 1, 2)


def _blocks(rows: np.ndarray, run) -> None:
    """``run(c0, c1)`` over cache-line blocks of the channels of ``rows (R, C)``, whole blocks per task."""
    R, C = rows.shape
    width = max(1, 64 // rows.itemsize)
    blocks = -(-C // width)

    def task(lo, hi):
        run(lo * width, min(C, hi * width))

    threads.parallel_for(task, blocks, threads.grain_for(blocks, ops.MIN_TASK_ELEMENTS // max(1, R * width), 2))


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float, statistics=None):
    """As the NumPy set's; ``y`` is channels last in memory, the cache holds the input rows, not ``xhat``."""
    rows = _rows(x)
    dtype = rows.dtype
    C = rows.shape[1]
    y = empty(rows.shape, dtype)
    if statistics is None:
        mean64, var64 = np.empty(C), np.empty(C)
        mean, a, b = np.empty(C, dtype), np.empty(C, dtype), np.asarray(beta, dtype)

        def run(c0, c1):
            _statistics(rows, c0, c1, mean64, var64)
            mean[c0:c1] = mean64[c0:c1]
            a[c0:c1] = gamma[c0:c1] / np.sqrt(var64[c0:c1].astype(dtype) + dtype.type(epsilon))
            _normalize(rows, mean, a, b, c0, c1, y)

        _blocks(rows, run)
        var = var64.astype(dtype)
    else:
        mean, var = (np.asarray(v, dtype) for v in statistics)
        a, b = gamma / np.sqrt(var + dtype.type(epsilon)), np.asarray(beta, dtype)
        _blocks(rows, lambda c0, c1: _normalize(rows, mean, a, b, c0, c1, y))
    inv_std = 1 / np.sqrt(var + dtype.type(epsilon))
    return _like(y, x.shape), mean, var, (rows, mean, inv_std, statistics is None, x.shape)


def batch_norm_backward(dy: np.ndarray, cache, gamma: np.ndarray, input_grad: bool = True):
    """As the NumPy set's; ``dx`` is channels last in memory."""
    rows, mean, inv_std, batch_statistics, shape = cache
    dtype = rows.dtype
    R, C = rows.shape
    g_rows = _rows(np.asarray(dy, dtype))
    sdy, sdyx = np.empty(C), np.empty(C)
    dx = empty(rows.shape, dtype) if input_grad else None
    scale = (gamma * inv_std).astype(np.float64)  # gamma * s
    s64 = inv_std.astype(np.float64)
    p = scale.astype(dtype)
    q, rr = np.zeros(C, dtype), np.zeros(C, dtype)

    def run(c0, c1):
        _gradient_sums(g_rows, rows, mean, c0, c1, sdy, sdyx)
        if not input_grad:
            return
        if batch_statistics:  # dx = scale * dy - scale * dbeta / M - scale * s * dgamma / M * (x - mu)
            q[c0:c1] = -scale[c0:c1] * sdy[c0:c1] / R
            rr[c0:c1] = -scale[c0:c1] * s64[c0:c1] * (sdyx[c0:c1] * s64[c0:c1]) / R
        _input_gradient(g_rows, rows, mean, p, q, rr, c0, c1, dx)

    _blocks(rows, run)
    dgamma = (sdyx * s64).astype(dtype)
    dbeta = sdy.astype(dtype)
    return dgamma, dbeta, None if dx is None else _like(dx, shape)
