"""The loops behind ``handgrad.kernels.numba.ops``, compiled by numba and vectorized over channels.

Every loop is serial and releases the GIL (``nogil=True``): ``handgrad.kernels.threads`` runs one call per
thread on disjoint parts of the batch. Loops take C-contiguous arrays and write into outputs the caller
allocated; ``fast`` does the layout handling, allocation and splitting. Channels are innermost
(``(N, H, W, C)`` arrays), so the inner loops run over contiguous memory. Each function is compiled lazily
for the dtypes it meets (float32 for training, float64 for gradient checks) and cached on disk
(``cache=True``), so a machine pays the compilation once.

Two habits keep the inner loops vectorized (each was measured 3-20x slower without it on Zen 3):

- Arrays are indexed flat with *unsigned* offsets (``_U``): a signed index makes numba test for negative
  (wrap-around) indices element by element, which stops LLVM from vectorizing the loop.
- A loop never stores ``cond ? new : old`` back to the address ``old`` came from: LLVM turns that into a
  masked store (``vmaskmovps``), microcoded and very slow on AMD CPUs. Running maxima ping-pong between two
  scratch rows instead.

Notation as in ``handgrad.kernels.numpy.ops``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_U = np.uint64  # unsigned flat offsets (see above)


# ---------------------------------------------------------------------------------------------- im2col
@njit(nogil=True, cache=True)
def im2col(x, KH, KW, SH, SW, top, left, OH, OW, cols):
    """``cols[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c] = xpad[n, oh*SH + kh, ow*SW + kw, c]``.

    Shape: ``x (N, H, W, C)``, ``cols (N*OH*OW, KH*KW*C)``; padding positions are written as zeros.
    """
    N, H, W, C = x.shape
    run = KW * C  # one kernel row: KW pixels, contiguous in x when they are all inside
    K = KH * run
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    for r in range(N * OH):  # output rows (n, oh)
        n = r // OH
        oh = r - n * OH
        for ow in range(OW):
            iw0 = ow * SW - left
            for kh in range(KH):
                ih = oh * SH - top + kh
                d = _U((r * OW + ow) * K + kh * run)
                if ih < 0 or ih >= H:
                    for j in range(_U(run)):
                        cf[d + j] = 0
                elif iw0 >= 0 and iw0 + KW <= W:
                    s = _U(((n * H + ih) * W + iw0) * C)
                    for j in range(_U(run)):
                        cf[d + j] = xf[s + j]
                else:
                    for kw in range(KW):
                        iw = iw0 + kw
                        dk = d + _U(kw * C)
                        if iw < 0 or iw >= W:
                            for c in range(_U(C)):
                                cf[dk + c] = 0
                        else:
                            s = _U(((n * H + ih) * W + iw) * C)
                            for c in range(_U(C)):
                                cf[dk + c] = xf[s + c]


@njit(nogil=True, cache=True)
def col2im(dcols, KH, KW, SH, SW, top, left, OH, OW, dx):
    """Adjoint of ``im2col``: ``dx[n, ih, iw, c]`` = sum of the column entries copied from ``(ih, iw, c)``.

    Shape: ``dcols (N*OH*OW, KH*KW*C)``, ``dx (N, H, W, C)`` (overwritten). Input row by input row ``(n, ih)``:
    each row is zeroed, then receives the kernel rows ``kh`` that read it, while it is in L1.
    """
    N, H, W, C = dx.shape
    run = KW * C
    K = KH * run
    df = dcols.reshape(-1)
    xf = dx.reshape(-1)
    for r in range(N * H):
        n = r // H
        ih = r - n * H
        row = _U(r * W * C)
        for j in range(_U(W * C)):
            xf[row + j] = 0
        for kh in range(KH):
            t = ih + top - kh
            if t < 0:
                break
            oh = t // SH
            if t - oh * SH != 0 or oh >= OH:
                continue
            for ow in range(OW):
                s = _U(((n * OH + oh) * OW + ow) * K + kh * run)
                iw0 = ow * SW - left
                if iw0 >= 0 and iw0 + KW <= W:
                    d = row + _U(iw0 * C)
                    for j in range(_U(run)):
                        xf[d + j] += df[s + j]
                else:
                    for kw in range(KW):
                        iw = iw0 + kw
                        if 0 <= iw < W:
                            d = row + _U(iw * C)
                            sk = s + _U(kw * C)
                            for c in range(_U(C)):
                                xf[d + c] += df[sk + c]


@njit(nogil=True, cache=True, inline="always")
def _columns_inside(W, OW, SW, left, kw):
    """``(lo, hi)``: the output columns ``ow in [lo, hi)`` whose input column ``ow*SW - left + kw`` is in ``[0, W)``."""
    lo = 0 if left - kw <= 0 else min(OW, (left - kw + SW - 1) // SW)
    hi = 0 if W - 1 + left - kw < 0 else min(OW, (W - 1 + left - kw) // SW + 1)
    return lo, max(lo, hi)


@njit(nogil=True, cache=True)
def im2col_channels_first(x, KH, KW, SH, SW, top, left, OH, OW, cols_t):
    """``cols_t[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = xpad[n, c, oh*SH + kh, ow*SW + kw]``: im2col transposed.

    Shape: ``x (N, C, H, W)``, ``cols_t (C*KH*KW, N*OH*OW)``. For inputs with few channels (the first layer):
    a row of ``cols_t`` is a run of ``OW`` pixels, a contiguous copy of an input row when ``SW == 1``, where
    the channels-last ``im2col`` would copy runs of only ``KW*C`` floats.
    """
    N, C, H, W = x.shape
    M = N * OH * OW
    xf = x.reshape(-1)
    cf = cols_t.reshape(-1)
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                row = ((c * KH + kh) * KW + kw) * M
                ow_lo, ow_hi = _columns_inside(W, OW, SW, left, kw)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * SH - top + kh
                        d = _U(row + (n * OH + oh) * OW)
                        if ih < 0 or ih >= H:
                            for j in range(_U(OW)):
                                cf[d + j] = 0
                            continue
                        for j in range(_U(ow_lo)):
                            cf[d + j] = 0
                        for j in range(_U(ow_hi), _U(OW)):
                            cf[d + j] = 0
                        s = _U(((n * C + c) * H + ih) * W + ow_lo * SW - left + kw)
                        d = d + _U(ow_lo)
                        if SW == 1:
                            for j in range(_U(ow_hi - ow_lo)):
                                cf[d + j] = xf[s + j]
                        else:
                            for j in range(_U(ow_hi - ow_lo)):
                                cf[d + j] = xf[s + j * _U(SW)]


@njit(nogil=True, cache=True)
def col2im_channels_first(dcols_t, KH, KW, SH, SW, top, left, OH, OW, dx):
    """Adjoint of ``im2col_channels_first``: ``dx[n, c, ih, iw]`` = sum of the entries copied from there.

    Shape: ``dcols_t (C*KH*KW, N*OH*OW)``, ``dx (N, C, H, W)`` (overwritten).
    """
    N, C, H, W = dx.shape
    M = N * OH * OW
    df = dcols_t.reshape(-1)
    xf = dx.reshape(-1)
    for q in range(_U(N * C * H * W)):
        xf[q] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                row = ((c * KH + kh) * KW + kw) * M
                ow_lo, ow_hi = _columns_inside(W, OW, SW, left, kw)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * SH - top + kh
                        if ih < 0 or ih >= H:
                            continue
                        s = _U(row + (n * OH + oh) * OW + ow_lo)
                        d = _U(((n * C + c) * H + ih) * W + ow_lo * SW - left + kw)
                        if SW == 1:
                            for j in range(_U(ow_hi - ow_lo)):
                                xf[d + j] += df[s + j]
                        else:
                            for j in range(_U(ow_hi - ow_lo)):
                                xf[d + j * _U(SW)] += df[s + j]


@njit(nogil=True, cache=True)
def add_bias(z, b):
    """``z[i, f] += b[f]`` in place. Shape ``z (M, F)``, ``b (F,)``. (NumPy's broadcast add runs one short
    inner loop per row: ~7x slower for F = 32.)"""
    M, F = z.shape
    zf = z.reshape(-1)
    for i in range(M):
        s = _U(i * F)
        for f in range(_U(F)):
            zf[s + f] += b[f]


@njit(nogil=True, cache=True)
def add_column_sums(a, acc):
    """``acc[f] += sum_i a[i, f]``. Shape ``a (M, F)``; ``acc (F,)``, float64 (sums of float32 rows lose less)."""
    M, F = a.shape
    af = a.reshape(-1)
    for i in range(M):
        s = _U(i * F)
        for f in range(_U(F)):
            acc[f] += af[s + f]


@njit(nogil=True, cache=True)
def add_in_place(total, part):
    """``total += part`` element by element, as NumPy's in-place add; both C-contiguous, of one shape."""
    t = total.reshape(-1)
    p = part.reshape(-1)
    for i in range(_U(t.size)):
        t[i] += p[i]


# ---------------------------------------------------------------------------------------------- max pooling
@njit(nogil=True, cache=True)
def max_pool(x, KH, KW, SH, SW, y, argmax):
    """``y[n, oh, ow, c] = max_{i, j} x[n, oh*SH + i, ow*SW + j, c]``; ``argmax`` = ``i*KW + j`` of the first maximum.

    Shape: ``x (N, H, W, C)``, ``y`` and ``argmax`` ``(N, OH, OW, C)``. A NaN counts as the maximum (the first
    NaN wins), as in ``np.argmax``. The running maximum of one output row ping-pongs between two scratch
    rows (see the module docstring).
    """
    N, H, W, C = x.shape
    OH, OW = y.shape[1], y.shape[2]
    L = OW * C  # one output row
    xf = x.reshape(-1)
    yf = y.reshape(-1)
    af = argmax.reshape(-1)
    if KH == 2 and KW == 2:  # the usual window: its four values in registers, no scratch rows
        for r in range(N * OH):
            n = r // OH
            oh = r - n * OH
            for ow in range(OW):
                s0 = _U(((n * H + oh * SH) * W + ow * SW) * C)
                s1 = s0 + _U(C)
                s2 = s0 + _U(W * C)
                s3 = s2 + _U(C)
                o = _U(r * L + ow * C)
                for c in range(_U(C)):
                    m = xf[s0 + c]
                    k = 0
                    v = xf[s1 + c]
                    take = (v > m) | ((v != v) & (m == m))
                    m, k = (v, 1) if take else (m, k)
                    v = xf[s2 + c]
                    take = (v > m) | ((v != v) & (m == m))
                    m, k = (v, 2) if take else (m, k)
                    v = xf[s3 + c]
                    take = (v > m) | ((v != v) & (m == m))
                    m, k = (v, 3) if take else (m, k)
                    yf[o + c] = m
                    af[o + c] = k
        return
    best = np.empty(L, dtype=x.dtype)
    best_next = np.empty(L, dtype=x.dtype)
    arg = np.empty(L, dtype=np.int32)
    arg_next = np.empty(L, dtype=np.int32)
    for r in range(N * OH):  # output rows (n, oh)
        n = r // OH
        oh = r - n * OH
        for ow in range(OW):
            s = _U(((n * H + oh * SH) * W + ow * SW) * C)
            d = _U(ow * C)
            for c in range(_U(C)):
                best[d + c] = xf[s + c]
                arg[d + c] = 0
        for k in range(1, KH * KW):
            i = k // KW
            j = k - i * KW
            for ow in range(OW):
                s = _U(((n * H + oh * SH + i) * W + ow * SW + j) * C)
                d = _U(ow * C)
                for c in range(_U(C)):
                    v = xf[s + c]
                    b = best[d + c]
                    take = (v > b) | ((v != v) & (b == b))
                    best_next[d + c] = v if take else b
                    arg_next[d + c] = k if take else arg[d + c]
            best, best_next = best_next, best
            arg, arg_next = arg_next, arg
        o = _U(r * L)
        for q in range(_U(L)):
            yf[o + q] = best[q]
            af[o + q] = arg[q]


@njit(nogil=True, cache=True)
def max_pool_backward(dy, argmax, KH, KW, SH, SW, dx):
    """``dx[n, oh*SH + i, ow*SW + j, c] += dy[n, oh, ow, c]`` where ``argmax[n, oh, ow, c] == i*KW + j``.

    Shape: ``dy`` and ``argmax`` ``(N, OH, OW, C)``, ``dx (N, H, W, C)`` (overwritten), image by image. When
    the windows tile the input (stride = window, the usual case) each covered input is written once and
    only the rows and columns past the last window are zeroed; otherwise the image is zeroed and the
    windows' gradients added (overlapping windows add up).
    """
    N, OH, OW, C = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    gf = dy.reshape(-1)
    af = argmax.reshape(-1)
    xf = dx.reshape(-1)
    tiled = SH == KH and SW == KW
    for n in range(N):
        if tiled:
            for h in range(H):
                w0 = 0 if h >= OH * KH else OW * KW  # zero what no window covers
                z = _U(((n * H + h) * W + w0) * C)
                for q in range(_U((W - w0) * C)):
                    xf[z + q] = 0
        else:
            z = _U(n * H * W * C)
            for q in range(_U(H * W * C)):
                xf[z + q] = 0
        for oh in range(OH):
            for ow in range(OW):
                s = _U(((n * OH + oh) * OW + ow) * C)
                for k in range(KH * KW):
                    i = k // KW
                    j = k - i * KW
                    d = _U(((n * H + oh * SH + i) * W + ow * SW + j) * C)
                    if tiled:
                        for c in range(_U(C)):
                            g = gf[s + c]
                            xf[d + c] = g if af[s + c] == k else 0
                    else:
                        for c in range(_U(C)):
                            g = gf[s + c]
                            xf[d + c] += g if af[s + c] == k else 0


# ---------------------------------------------------------------------------------------------- ELU
_F32 = np.float32
_LOG2E = _F32(1.4426950408889634)
_LN2_HI = _F32(0.693359375)  # ln 2 = _LN2_HI + _LN2_LO; _LN2_HI has 10 significant bits, so k * _LN2_HI is exact
_LN2_LO = _F32(-2.1219444005469057e-4)
_LOWEST = _F32(-17.4)  # exp(-17.4) < 2**-25: expm1 rounds to -1 in float32 below this; keeps k >= -25
_C2, _C3, _C4, _C5, _C6, _C7 = (_F32(1.0 / math.factorial(i)) for i in range(2, 8))  # Taylor coefficients
_BLOCK = 4096  # elements per block of elu_f32: its two scratch blocks stay in L1


@njit(nogil=True, cache=True, fastmath={"contract"})
def elu_f32(x, alpha, y):
    """float32 ``y = x if x > 0 else alpha * expm1(x)`` (NaN stays NaN); flat arrays, ``alpha`` float32.

    ``expm1`` within 1 ulp for ``x <= 0``, in two vectorized loops per block: ``x = k*ln2 + r`` with integer
    ``k = round(x / ln2)``, ``|r| <= ln2/2`` (two-part ``ln2``: ``k * _LN2_HI`` is exact); ``expm1(r)`` by its
    Taylor polynomial to ``r**7`` (remainder < 2e-9 relative); ``2**k`` by writing the IEEE bits
    ``(k + 127) << 23`` as an int32 and reading them back as float32 (an array view: numba has no scalar
    bit cast); ``expm1(x) = 2**k * expm1(r) + (2**k - 1)``. ``x = +-0`` gives ``+-0``, as ``alpha * expm1(+-0)``.

    Only fused multiply-adds are allowed (``fastmath={"contract"}``): reassociation would undo the two-part
    range reduction. Whether LLVM fuses depends on the CPU (FMA3 on x86-64 since Haswell, always on arm64),
    so the last bits of the result do too; the error bound does not: measured over every float32 in
    ``[-17.5, 0]``, the largest error is 0.87 ulp with fused multiply-adds and 0.90 ulp without, so the
    tests' 1-ulp bound covers both (``benchmarks/elu_kernel.py``). Kept for speed: the kernel is ~1.4x
    faster with them.
    """
    n = x.size
    poly = np.empty(_BLOCK, dtype=np.float32)
    bits = np.empty(_BLOCK, dtype=np.int32)
    pow2 = bits.view(np.float32)
    for b in range((n + _BLOCK - 1) // _BLOCK):
        lo = _U(b * _BLOCK)
        m = _U(min(n, (b + 1) * _BLOCK) - b * _BLOCK)
        for i in range(m):
            v = max(min(x[lo + i], _F32(0.0)), _LOWEST)
            k = np.floor(v * _LOG2E + _F32(0.5))  # -25 <= k <= 0
            r = (v - k * _LN2_HI) - k * _LN2_LO
            poly[i] = r + r * r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7)))))
            bits[i] = np.int32(k * _F32(2.0**23) + _F32(127 * 2.0**23))  # exact: (k + 127) * 2**23 < 2**31
        for i in range(m):
            s = pow2[i]
            e = alpha * (s * poly[i] + (s - _F32(1.0)))
            v = x[lo + i]
            y[lo + i] = e if v < 0 else v  # v >= 0 (+-0 included) or NaN: v


@njit(nogil=True, cache=True)
def elu_f64(x, alpha, y):
    """float64 ``y = x if x > 0 else alpha * expm1(x)`` with the C library's ``expm1``; flat arrays."""
    for i in range(_U(x.size)):
        v = x[i]
        y[i] = alpha * math.expm1(v) if v < 0 else v


@njit(inline="always")
def _elu_grad(g, v, alpha):
    """ELU's ``dL/dx`` from ``g = dL/dy`` at its output ``v``: ``g if v > 0 else g * (v + alpha)``."""
    return g if v > 0 else g * (v + alpha)


@njit(nogil=True, cache=True)
def elu_backward(dy, y, alpha, dx):
    """``dx = dy if y > 0 else dy * (y + alpha)``; flat arrays, ``alpha`` of the arrays' dtype."""
    for i in range(_U(y.size)):
        dx[i] = _elu_grad(dy[i], y[i], alpha)


# ---------------------------------------------------------------------------------------------- ELU + max pooling
# One call per task (``ops.max_pool_elu_*``): two numba calls would release and retake the GIL between them.
@njit(nogil=True, cache=True)
def max_pool_elu_f32(x, KH, KW, SH, SW, pooled, argmax, alpha, y):
    """``max_pool`` of ``x`` into ``pooled`` and ``argmax``, then ``elu_f32`` of ``pooled`` into ``y``."""
    max_pool(x, KH, KW, SH, SW, pooled, argmax)
    elu_f32(pooled.reshape(-1), alpha, y.reshape(-1))


@njit(nogil=True, cache=True)
def max_pool_elu_f64(x, KH, KW, SH, SW, pooled, argmax, alpha, y):
    """``max_pool`` of ``x`` into ``pooled`` and ``argmax``, then ``elu_f64`` of ``pooled`` into ``y``."""
    max_pool(x, KH, KW, SH, SW, pooled, argmax)
    elu_f64(pooled.reshape(-1), alpha, y.reshape(-1))


@njit(nogil=True, cache=True)
def max_pool_elu_backward(dy, y, alpha, argmax, KH, KW, SH, SW, dpooled, dx):
    """``elu_backward`` of ``dy`` at ``y`` into ``dpooled``, then ``max_pool_backward`` of it into ``dx``."""
    elu_backward(dy.reshape(-1), y.reshape(-1), alpha, dpooled.reshape(-1))
    max_pool_backward(dpooled, argmax, KH, KW, SH, SW, dx)


@njit(nogil=True, cache=True)
def max_pool_elu_backward_strided(dy, y, alpha, argmax, KH, KW, SH, SW, dpooled, dx):
    """``max_pool_elu_backward`` for a ``dy (N, OH, OW, C)`` of any strides (a channels-first gradient seen
    channels-last: the Dense layer's after a Flatten), read in place instead of copied first."""
    N, OH, OW, C = dy.shape
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    dpooled[n, oh, ow, c] = _elu_grad(dy[n, oh, ow, c], y[n, oh, ow, c], alpha)
    max_pool_backward(dpooled, argmax, KH, KW, SH, SW, dx)
