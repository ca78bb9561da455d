"""The numba loops of ``F(4x4, 5x5)`` (8x8 tiles): the four tile transforms, written out, over channels.

The counterpart of ``winograd_loops`` (6x6 tiles, ``F(4x4, 3x3)``), with its layout, padding (``pad_input``,
``crop_input``) and conventions; shapes: ``xp (n, TH*4 + 4, TW*4 + 4, C)``, ``V (64, Tp, C)``, ``M (64, Tp,
F)``, ``z (n, TH*4, TW*4, F)`` with ``Tp >= n*TH*TW`` rows per point (rows past the tiles are neither read
nor written). Points ``0, +-1, +-2, +-1/2`` and infinity (``winograd_transforms.POINTS[8]``): the 1-D transforms share
the sums of the symmetric pairs. Every output is a sum of the same terms as the matrix product, each through
at most 8 roundings, so the error bounds of ``handgrad.kernels.numpy.winograd`` hold;
``tests/kernels/test_winograd.py`` checks the 1-D transforms against the matrices.

Unlike the 6x6 loops, each loop is compiled per channel count (a factory, cached): with 8 operand streams
and 7 strides, runtime offsets ran out of registers (3x slower per tile); a compile-time channel count makes
every offset a constant.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

U = np.uint64  # unsigned flat offsets: no negative-index checks in the vectorized loops
M_TILE = 4  # output tile side
# The entries of B^T and A^T (all dyadic: exact in float32).
Q, HALF, TWO, FOUR, EIGHT, EIGHTH = (np.float32(v) for v in (0.25, 0.5, 2.0, 4.0, 8.0, 0.125))
FIVE_4, FIVE_2, SEVENTEEN_4, TWENTYONE_4, FIVE = (np.float32(v) for v in (1.25, 2.5, 4.25, 5.25, 5.0))


@njit(inline="always")
def multiples(x):
    """``x, 2x, ..., 7x`` as unsigned offsets (strides between a transform's operands)."""
    return U(x), U(2 * x), U(3 * x), U(4 * x), U(5 * x), U(6 * x), U(7 * x)


ALPHA = 8


@njit(inline="always")
def _bt(d0, d1, d2, d3, d4, d5, d6, d7):
    """``B^T d`` of ``F(4, 5)`` (see ``winograd_transforms.TRANSFORMS[5].BT``): pairs ``+-1``, ``+-1/2``, ``+-2``."""
    e1 = d2 + d6 - SEVENTEEN_4 * d4
    o1 = d1 + d5 - SEVENTEEN_4 * d3
    e2 = Q * d2 - FIVE_4 * d4 + d6
    o2 = HALF * d1 - FIVE_2 * d3 + TWO * d5
    e3 = FOUR * d2 - FIVE * d4 + d6
    o3 = TWO * d1 - FIVE_2 * d3 + HALF * d5
    return (
        (d6 - d0) + TWENTYONE_4 * (d2 - d4),
        e1 + o1,
        e1 - o1,
        e2 + o2,
        e2 - o2,
        e3 + o3,
        e3 - o3,
        (d7 - d1) + TWENTYONE_4 * (d3 - d5),
    )


@njit(inline="always")
def _b(v0, v1, v2, v3, v4, v5, v6, v7):
    """``B v``: the adjoint of ``_bt``."""
    p1, q1 = v1 + v2, v1 - v2
    p2, q2 = v3 + v4, v3 - v4
    p3, q3 = v5 + v6, v5 - v6
    return (
        -v0,
        q1 + HALF * q2 + TWO * q3 - v7,
        TWENTYONE_4 * v0 + p1 + Q * p2 + FOUR * p3,
        TWENTYONE_4 * v7 - SEVENTEEN_4 * q1 - FIVE_2 * q2 - FIVE_2 * q3,
        -TWENTYONE_4 * v0 - SEVENTEEN_4 * p1 - FIVE_4 * p2 - FIVE * p3,
        q1 + TWO * q2 + HALF * q3 - TWENTYONE_4 * v7,
        v0 + p1 + p2 + p3,
        v7,
    )


@njit(inline="always")
def _at(m0, m1, m2, m3, m4, m5, m6, m7):
    """``A^T M`` of ``F(4, 5)``: row ``x`` is ``(m1 + (-1)^x m2) + 2^x (m3 + (-1)^x m4) + 2^-x (m5 + (-1)^x m6)``,
    plus ``m0`` (x=0), ``m7`` (x=3)."""
    s1, d1, s2, d2, s3, d3 = m1 + m2, m1 - m2, m3 + m4, m3 - m4, m5 + m6, m5 - m6
    return (m0 + s1 + s2 + s3, d1 + TWO * d2 + HALF * d3, s1 + FOUR * s2 + Q * s3, d1 + EIGHT * d2 + EIGHTH * d3 + m7)


@njit(inline="always")
def _a(y0, y1, y2, y3):
    """``A y`` of ``F(4, 5)`` (8 values from 4): the adjoint of ``_at``."""
    e1, o1 = y0 + y2, y1 + y3
    e2, o2 = y0 + FOUR * y2, TWO * y1 + EIGHT * y3
    e3, o3 = y0 + Q * y2, HALF * y1 + EIGHTH * y3
    return y0, e1 + o1, e1 - o1, e2 + o2, e2 - o2, e3 + o3, e3 - o3, y3


@functools.cache
def input_transform(C: int):
    """``V[i*8 + j, t, c] = (B^T d_t B)[i, j]`` for channel ``c`` of each tile ``d_t`` of the padded input.

    The loop for ``C`` channels: the channel count is a compile-time constant, so every operand
    offset is one (with runtime offsets the 8 operand streams ran 3x slower per tile, out of registers).
    Compiled on first use per channel count and dtype, cached on disk.
    """

    @njit(nogil=True, cache=True)
    def loop(xp, TH, TW, V):
        N, Hp, Wp, _ = xp.shape
        T, Tp = N * TH * TW, V.shape[1]
        xf = xp.reshape(-1)
        vf = V.reshape(-1)
        h = np.empty(ALPHA * ALPHA * C, dtype=xp.dtype)  # B^T along the rows: h[k, j, c]
        uC = U(C)
        c1, c2, c3, c4, c5, c6, c7 = multiples(C)
        r1, r2, r3, r4, r5, r6, r7 = multiples(ALPHA * C)
        p1, p2, p3, p4, p5, p6, p7 = multiples(ALPHA * Tp * C)
        for t in range(T):
            n = t // (TH * TW)
            th = (t // TW) % TH
            tw = t % TW
            for k in range(ALPHA):
                s = U(((n * Hp + th * M_TILE + k) * Wp + tw * M_TILE) * C)
                o = U(k * ALPHA * C)
                for c in range(uC):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _bt(
                        xf[s + c],
                        xf[s + c1 + c],
                        xf[s + c2 + c],
                        xf[s + c3 + c],
                        xf[s + c4 + c],
                        xf[s + c5 + c],
                        xf[s + c6 + c],
                        xf[s + c7 + c],
                    )
                    h[o + c] = v0
                    h[o + c1 + c] = v1
                    h[o + c2 + c] = v2
                    h[o + c3 + c] = v3
                    h[o + c4 + c] = v4
                    h[o + c5 + c] = v5
                    h[o + c6 + c] = v6
                    h[o + c7 + c] = v7
            for j in range(ALPHA):
                s = U(j * C)
                o = U((j * Tp + t) * C)
                for c in range(uC):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _bt(
                        h[s + c],
                        h[s + r1 + c],
                        h[s + r2 + c],
                        h[s + r3 + c],
                        h[s + r4 + c],
                        h[s + r5 + c],
                        h[s + r6 + c],
                        h[s + r7 + c],
                    )
                    vf[o + c] = v0
                    vf[o + p1 + c] = v1
                    vf[o + p2 + c] = v2
                    vf[o + p3 + c] = v3
                    vf[o + p4 + c] = v4
                    vf[o + p5 + c] = v5
                    vf[o + p6 + c] = v6
                    vf[o + p7 + c] = v7

    return loop


@functools.cache
def input_adjoint(C: int):
    """Adjoint of ``input_transform``: ``dxp`` = sum over tiles of ``B dV_t B^T``, each added where the tile was read
    (overwritten: zeroed first; tiles overlap by 4, so one thread must own the whole chunk).

    The loop for ``C`` channels: the channel count is a compile-time constant, so every operand
    offset is one (with runtime offsets the 8 operand streams ran 3x slower per tile, out of registers).
    Compiled on first use per channel count and dtype, cached on disk.
    """

    @njit(nogil=True, cache=True)
    def loop(dV, TH, TW, dxp):
        N, Hp, Wp, _ = dxp.shape
        T, Tp = N * TH * TW, dV.shape[1]
        vf = dV.reshape(-1)
        xf = dxp.reshape(-1)
        h = np.empty(ALPHA * ALPHA * C, dtype=dxp.dtype)  # B along the points' second index: h[i, l, c]
        uC = U(C)
        c1, c2, c3, c4, c5, c6, c7 = multiples(C)
        r1, r2, r3, r4, r5, r6, r7 = multiples(ALPHA * C)
        q1, q2, q3, q4, q5, q6, q7 = multiples(Tp * C)
        w1, w2, w3, w4, w5, w6, w7 = multiples(Wp * C)
        for j in range(U(N * Hp * Wp * C)):
            xf[j] = 0
        for t in range(T):
            n = t // (TH * TW)
            th = (t // TW) % TH
            tw = t % TW
            for i in range(ALPHA):
                s = U((i * ALPHA * Tp + t) * C)
                o = U(i * ALPHA * C)
                for c in range(uC):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _b(
                        vf[s + c],
                        vf[s + q1 + c],
                        vf[s + q2 + c],
                        vf[s + q3 + c],
                        vf[s + q4 + c],
                        vf[s + q5 + c],
                        vf[s + q6 + c],
                        vf[s + q7 + c],
                    )
                    h[o + c] = v0
                    h[o + c1 + c] = v1
                    h[o + c2 + c] = v2
                    h[o + c3 + c] = v3
                    h[o + c4 + c] = v4
                    h[o + c5 + c] = v5
                    h[o + c6 + c] = v6
                    h[o + c7 + c] = v7
            for l in range(ALPHA):
                s = U(l * C)
                o = U(((n * Hp + th * M_TILE) * Wp + tw * M_TILE + l) * C)
                for c in range(uC):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _b(
                        h[s + c],
                        h[s + r1 + c],
                        h[s + r2 + c],
                        h[s + r3 + c],
                        h[s + r4 + c],
                        h[s + r5 + c],
                        h[s + r6 + c],
                        h[s + r7 + c],
                    )
                    xf[o + c] += v0
                    xf[o + w1 + c] += v1
                    xf[o + w2 + c] += v2
                    xf[o + w3 + c] += v3
                    xf[o + w4 + c] += v4
                    xf[o + w5 + c] += v5
                    xf[o + w6 + c] += v6
                    xf[o + w7 + c] += v7

    return loop


@functools.cache
def output_transform(F: int):
    """``z[n, th*4 + x, tw*4 + y, f] = (A^T M_t A)[x, y] + b[f]`` for every tile (``z`` overwritten).

    The loop for ``F`` channels: the channel count is a compile-time constant, so every operand
    offset is one (with runtime offsets the 8 operand streams ran 3x slower per tile, out of registers).
    Compiled on first use per channel count and dtype, cached on disk.
    """

    @njit(nogil=True, cache=True)
    def loop(M, b, TH, TW, z):
        N, Z_H, Z_W, _ = z.shape
        T, Tp = N * TH * TW, M.shape[1]
        mf = M.reshape(-1)
        zf = z.reshape(-1)
        h = np.empty(M_TILE * ALPHA * F, dtype=z.dtype)  # A^T along the points' first index: h[x, j, f]
        uF = U(F)
        f1, f2, f3, f4, f5, f6, f7 = multiples(F)
        r1, r2, r3, r4, r5, r6, r7 = multiples(ALPHA * F)
        p1, p2, p3, p4, p5, p6, p7 = multiples(ALPHA * Tp * F)
        for t in range(T):
            n = t // (TH * TW)
            th = (t // TW) % TH
            tw = t % TW
            for j in range(ALPHA):
                s = U((j * Tp + t) * F)
                o = U(j * F)
                for c in range(uF):
                    y0, y1, y2, y3 = _at(
                        mf[s + c],
                        mf[s + p1 + c],
                        mf[s + p2 + c],
                        mf[s + p3 + c],
                        mf[s + p4 + c],
                        mf[s + p5 + c],
                        mf[s + p6 + c],
                        mf[s + p7 + c],
                    )
                    h[o + c] = y0
                    h[o + r1 + c] = y1
                    h[o + r2 + c] = y2
                    h[o + r3 + c] = y3
            for x in range(M_TILE):
                s = U(x * ALPHA * F)
                o = U(((n * Z_H + th * M_TILE + x) * Z_W + tw * M_TILE) * F)
                for c in range(uF):
                    y0, y1, y2, y3 = _at(
                        h[s + c],
                        h[s + f1 + c],
                        h[s + f2 + c],
                        h[s + f3 + c],
                        h[s + f4 + c],
                        h[s + f5 + c],
                        h[s + f6 + c],
                        h[s + f7 + c],
                    )
                    zf[o + c] = y0 + b[c]
                    zf[o + f1 + c] = y1 + b[c]
                    zf[o + f2 + c] = y2 + b[c]
                    zf[o + f3 + c] = y3 + b[c]

    return loop


@functools.cache
def output_adjoint(F: int):
    """Adjoint of ``output_transform``: ``dM[i*8 + j, t, f] = (A dY_t A^T)[i, j]``, ``dY_t`` the tile of ``dz``.

    The loop for ``F`` channels: the channel count is a compile-time constant, so every operand
    offset is one (with runtime offsets the 8 operand streams ran 3x slower per tile, out of registers).
    Compiled on first use per channel count and dtype, cached on disk.
    """

    @njit(nogil=True, cache=True)
    def loop(dz, TH, TW, dM):
        N, Z_H, Z_W, _ = dz.shape
        T, Tp = N * TH * TW, dM.shape[1]
        df = dz.reshape(-1)
        mf = dM.reshape(-1)
        h = np.empty(M_TILE * ALPHA * F, dtype=dz.dtype)  # A along the output columns: h[x, j, f]
        uF = U(F)
        f1, f2, f3, f4, f5, f6, f7 = multiples(F)
        r1, r2, r3, r4, r5, r6, r7 = multiples(ALPHA * F)
        p1, p2, p3, p4, p5, p6, p7 = multiples(ALPHA * Tp * F)
        for t in range(T):
            n = t // (TH * TW)
            th = (t // TW) % TH
            tw = t % TW
            for x in range(M_TILE):
                s = U(((n * Z_H + th * M_TILE + x) * Z_W + tw * M_TILE) * F)
                o = U(x * ALPHA * F)
                for c in range(uF):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _a(df[s + c], df[s + f1 + c], df[s + f2 + c], df[s + f3 + c])
                    h[o + c] = v0
                    h[o + f1 + c] = v1
                    h[o + f2 + c] = v2
                    h[o + f3 + c] = v3
                    h[o + f4 + c] = v4
                    h[o + f5 + c] = v5
                    h[o + f6 + c] = v6
                    h[o + f7 + c] = v7
            for j in range(ALPHA):
                s = U(j * F)
                o = U((j * Tp + t) * F)
                for c in range(uF):
                    v0, v1, v2, v3, v4, v5, v6, v7 = _a(h[s + c], h[s + r1 + c], h[s + r2 + c], h[s + r3 + c])
                    mf[o + c] = v0
                    mf[o + p1 + c] = v1
                    mf[o + p2 + c] = v2
                    mf[o + p3 + c] = v3
                    mf[o + p4 + c] = v4
                    mf[o + p5 + c] = v5
                    mf[o + p6 + c] = v6
                    mf[o + p7 + c] = v7

    return loop
