"""Batch normalization (the NumPy set's ``batch_norm``) as two passes over channels-last memory per direction.

The input is viewed as rows of channels, ``(R, C)`` with ``R = N*H*W`` (a view of a channels-last conv output,
a copy otherwise), and cut into chunks of whole rows (``CHUNK_BYTES``, a number that depends on ``C`` and the
dtype only). Both passes stream through memory in order, each task taking whole chunks of all channels:

- Forward: pass 1 sums, per chunk, ``x - x[0]`` and its square in float64 (shifted, so the variance keeps its
  digits when the mean is large); the chunks' sums are added in chunk order; pass 2 writes
  ``y = (x - mu) * (gamma * s) + beta``.
- Backward: pass 1 sums, per chunk, ``dy`` and ``dy * (x - mu)`` in float64 (``xhat`` is recomputed from the
  cached input, never stored), added in chunk order; pass 2 writes ``dx = p * dy + r * (x - mu) + q`` with
  per-channel ``p, r, q`` from the formula of the NumPy set.

No sum depends on which thread ran a chunk or on how many threads there are: the result is the same bit for
bit for any team.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from handgrad.kernels import threads
from handgrad.kernels.numba import ops
from handgrad.kernels.numba.buffers import empty
from handgrad.kernels.numba.layout import channels_last

_U = np.uint64  # unsigned flat offsets (see loops)

# Bytes of input per chunk of rows. The chunks' partial sums are added in chunk order, so the chunk size fixes
# the result's bits: it depends on the row width only, never on the team. 64 KiB: a few hundred rows, few partial
# sums to add, and enough chunks to share among threads.
CHUNK_BYTES = 1 << 16


@njit(nogil=True, cache=True)
def _moments(x, shift, k0, k1, size, parts):
    """For chunks ``k0 <= k < k1`` of ``size`` rows: ``parts[0, k, c] = sum (x[r, c] - shift[c])``,
    ``parts[1, k, c] = sum (x[r, c] - shift[c])**2`` over the chunk's rows (float64)."""
    R, C = x.shape
    xf = x.reshape(-1)
    h = shift.copy()
    a = np.empty(C)
    b = np.empty(C)
    for k in range(k0, k1):
        a[:] = 0.0
        b[:] = 0.0
        for r in range(k * size, min(R, (k + 1) * size)):
            o = _U(r * C)
            for j in range(_U(C)):
                d = np.float64(xf[o + j]) - h[j]
                a[j] += d
                b[j] += d * d
        parts[0, k] = a
        parts[1, k] = b


@njit(nogil=True, cache=True)
def _normalize(x, mu, a, b, r0, r1, y):
    """``y[r, c] = (x[r, c] - mu[c]) * a[c] + b[c]`` for ``r0 <= r < r1``; ``x``, ``y`` ``(R, C)``."""
    R, C = x.shape
    xf = x.reshape(-1)
    yf = y.reshape(-1)
    m, s, t = mu.copy(), a.copy(), b.copy()  # the kernel's own: the inner loop vectorizes
    for r in range(r0, r1):
        o = _U(r * C)
        for j in range(_U(C)):
            yf[o + j] = (xf[o + j] - m[j]) * s[j] + t[j]


@njit(nogil=True, cache=True)
def _gradient_sums(dy, x, mu, k0, k1, size, parts):
    """For chunks ``k0 <= k < k1`` of ``size`` rows: ``parts[0, k, c] = sum dy[r, c]``,
    ``parts[1, k, c] = sum dy[r, c] * (x[r, c] - mu[c])`` over the chunk's rows (float64)."""
    R, C = x.shape
    xf = x.reshape(-1)
    gf = dy.reshape(-1)
    m = mu.copy()
    a = np.empty(C)
    b = np.empty(C)
    for k in range(k0, k1):
        a[:] = 0.0
        b[:] = 0.0
        for r in range(k * size, min(R, (k + 1) * size)):
            o = _U(r * C)
            for j in range(_U(C)):
                g = gf[o + j]
                a[j] += g
                b[j] += g * (xf[o + j] - m[j])
        parts[0, k] = a
        parts[1, k] = b


@njit(nogil=True, cache=True)
def _input_gradient(dy, x, mu, p, q, rr, r0, r1, dx):
    """``dx[r, c] = p[c] * dy[r, c] + rr[c] * (x[r, c] - mu[c]) + q[c]`` for ``r0 <= r < r1``."""
    R, C = x.shape
    xf = x.reshape(-1)
    gf = dy.reshape(-1)
    df = dx.reshape(-1)
    m, pp, qq, rrr = mu.copy(), p.copy(), q.copy(), rr.copy()
    for r in range(r0, r1):
        o = _U(r * C)
        for j in range(_U(C)):
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


def _chunk_rows(rows: np.ndarray) -> int:
    """Rows per chunk of ``rows (R, C)``: ``CHUNK_BYTES`` of them, at least one."""
    return max(1, CHUNK_BYTES // (rows.shape[1] * rows.itemsize))


def _rows_of_tasks(rows: np.ndarray, run) -> None:
    """``run(r0, r1)`` over ``rows (R, C)`` on the team, in tasks of whole rows."""
    R, C = rows.shape
    threads.parallel_for(run, R, threads.grain_for(R, ops.MIN_TASK_ELEMENTS // max(1, C), 2))


def _summed(rows: np.ndarray, partial) -> tuple:
    """Two per-chunk float64 sums of ``rows`` (``partial(k0, k1, size, parts)`` fills chunks ``k0 <= k < k1`` of
    ``parts (2, chunks, C)``), added in chunk order: ``(S1, S2)``."""
    R, C = rows.shape
    size = _chunk_rows(rows)
    count = -(-R // size)
    parts = np.empty((2, count, C))
    threads.parallel_for(lambda k0, k1: partial(k0, k1, size, parts), count,
                         threads.grain_for(count, ops.MIN_TASK_ELEMENTS // max(1, size * C), 2))
    total = parts[:, 0].copy()
    for k in range(1, count):  # in chunk order, whatever the team
        total += parts[:, k]
    return total[0], total[1]


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float, statistics=None):
    """As the NumPy set's; ``y`` is channels last in memory, the cache holds the input rows, not ``xhat``."""
    rows = _rows(x)
    dtype = rows.dtype
    R = rows.shape[0]
    y = empty(rows.shape, dtype)
    if statistics is None:
        shift = rows[0].astype(np.float64)
        s1, s2 = _summed(rows, lambda k0, k1, size, parts: _moments(rows, shift, k0, k1, size, parts))
        m = s1 / R
        mean64, var64 = shift + m, np.maximum(s2 / R - m * m, 0.0)
        mean, var = mean64.astype(dtype), var64.astype(dtype)
    else:
        mean, var = (np.asarray(v, dtype) for v in statistics)
    a, b = (gamma / np.sqrt(var + dtype.type(epsilon))).astype(dtype), np.asarray(beta, dtype)
    _rows_of_tasks(rows, lambda r0, r1: _normalize(rows, mean, a, b, r0, r1, y))
    inv_std = 1 / np.sqrt(var + dtype.type(epsilon))
    return _like(y, x.shape), mean, var, (rows, mean, inv_std, statistics is None, x.shape)


def batch_norm_backward(dy: np.ndarray, cache, gamma: np.ndarray, input_grad: bool = True):
    """As the NumPy set's; ``dx`` is channels last in memory."""
    rows, mean, inv_std, batch_statistics, shape = cache
    dtype = rows.dtype
    R, C = rows.shape
    g_rows = _rows(np.asarray(dy, dtype))
    sdy, sdyx = _summed(rows, lambda k0, k1, size, parts: _gradient_sums(g_rows, rows, mean, k0, k1, size, parts))
    s64 = inv_std.astype(np.float64)
    dgamma, dbeta = (sdyx * s64).astype(dtype), sdy.astype(dtype)
    if not input_grad:
        return dgamma, dbeta, None
    scale = (gamma * inv_std).astype(np.float64)  # gamma * s
    p = scale.astype(dtype)
    q, rr = np.zeros(C, dtype), np.zeros(C, dtype)
    if batch_statistics:  # dx = scale * dy - scale * dbeta / M - scale * s * dgamma / M * (x - mu)
        q = (-scale * sdy / R).astype(dtype)
        rr = (-scale * s64 * (sdyx * s64) / R).astype(dtype)
    dx = empty(rows.shape, dtype)
    _rows_of_tasks(rows, lambda r0, r1: _input_gradient(g_rows, rows, mean, p, q, rr, r0, r1, dx))
    return dgamma, dbeta, _like(dx, shape)
