"""The numba loops of ``F(4x4, 3x3)`` (6x6 tiles) behind ``handgrad.kernels.numba.winograd``, and the padding.

The tile transforms, written out, over channels (``winograd_loops8`` has those of ``F(4x4, 5x5)``, 8x8
tiles). Points ``0, +-2, +-1/2`` and infinity; each 1-D transform is written out with its shared sums
(``_bt``: ``B^T d``, 14 additions and 8 products instead of the 36 multiply-adds of a matrix product;
``_b``: ``B v``; ``_at``: ``A^T M``; ``_a``: ``A y``), in the arithmetic type of the data (the constants are
float32 and exact, so float64 data stays float64). Every output is still a sum of the same terms as the matrix
product, in some order, so the error bounds of ``handgrad.kernels.numpy.winograd`` hold unchanged;
``tests/kernels/test_winograd.py`` checks these functions against the matrices.

A 2-D transform is two passes over a tile: rows into a scratch of ``36 * channels`` floats (L1-resident),
then columns from it. Each pass is one loop over the channels with 6 loads and 6 (or 4) stores per
channel, which LLVM vectorizes (channels innermost, flat unsigned offsets: see ``numba_loops``).

The loops see whole tiles only: the input is zero-padded to ``(n, TH*4 + r - 1, TW*4 + r - 1, C)``
(``pad_input``, ``r`` the kernel size) and the outputs cover ``(n, TH*4, TW*4, F)``; ``numba.winograd`` pads
and crops where the output size is not a multiple of 4. Tile ``t = (n*TH + th)*TW + tw`` reads padded input
rows ``th*4 + k`` and columns ``tw*4 + l`` (``k, l < alpha``) and writes output rows ``th*4 + x``, columns
``tw*4 + y`` (``x, y < 4``). Transformed arrays are point-major, ``(alpha^2, T, channels)``, point
``p = i*alpha + j``, so that each point's matrix product reads a contiguous ``(T, channels)`` matrix. Notation
as in ``handgrad.kernels.winograd_transforms``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_U = np.uint64  # unsigned flat offsets: no negative-index checks in the vectorized loops
_A = 6  # tile side alpha
_M = 4  # output tile side m

# The nonzero entries of B^T and A^T (all dyadic: exact in float32).
_Q, _HALF, _TWO, _FOUR, _EIGHT, _EIGHTH, _17_4 = (np.float32(v) for v in (0.25, 0.5, 2.0, 4.0, 8.0, 0.125, 4.25))


# ---------------------------------------------------------------------------------------------- 1-D transforms
@njit(inline="always")
def _bt(d0, d1, d2, d3, d4, d5):
    """``B^T d`` for the 6 values of one tile row or column (see ``winograd_transforms.TRANSFORMS[3].BT``)."""
    s = d4 - _Q * d2
    t = _TWO * d3 - _HALF * d1
    u = d4 - _FOUR * d2
    w = _HALF * d3 - _TWO * d1
    return d0 - _17_4 * d2 + d4, s + t, s - t, u + w, u - w, d1 - _17_4 * d3 + d5


@njit(inline="always")
def _b(v0, v1, v2, v3, v4, v5):
    """``B v = (B^T)^T v``: the adjoint of ``_bt``."""
    p = v1 + v2
    q = v2 - v1
    r = v3 + v4
    s = v4 - v3
    return (v0, _HALF * q + _TWO * s + v5, -_17_4 * v0 - _Q * p - _FOUR * r, -_TWO * q - _HALF * s - _17_4 * v5,
            v0 + p + r, v5)


@njit(inline="always")
def _at(m0, m1, m2, m3, m4, m5):
    """``A^T M`` of ``F(4, 3)``: row ``x`` is ``2^x (m1 + (-1)^x m2) + 2^-x (m3 + (-1)^x m4)``, plus ``m0`` (x=0),
    ``m5`` (x=3)."""
    s, d, s2, d2 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
    return m0 + s + s2, _TWO * d + _HALF * d2, _FOUR * s + _Q * s2, _EIGHT * d + _EIGHTH * d2 + m5


@njit(inline="always")
def _a(y0, y1, y2, y3):
    """``A y`` of ``F(4, 3)`` (6 values from 4): the adjoint of ``_at``."""
    e = y0 + _FOUR * y2
    o = _TWO * y1 + _EIGHT * y3
    e2 = y0 + _Q * y2
    o2 = _HALF * y1 + _EIGHTH * y3
    return y0, e + o, e - o, e2 + o2, e2 - o2, y3

@njit(inline="always")
def _multiples(x):
    """``x, 2x, 3x, 4x, 5x`` as unsigned offsets (strides between a transform's 6 operands)."""
    return _U(x), _U(2 * x), _U(3 * x), _U(4 * x), _U(5 * x)


# ---------------------------------------------------------------------------------------------- padding
@njit(nogil=True, cache=True)
def pad_input(x, top, left, xp):
    """``xp[n, top + h, left + w, c] = x[n, h, w, c]``, zeros elsewhere.

    Shape: ``x (n, H, W, C)``, ``xp (n, Hp, Wp, C)``.
    """
    N, H, W, C = x.shape
    Hp, Wp = xp.shape[1], xp.shape[2]
    xf = x.reshape(-1)
    pf = xp.reshape(-1)
    row = _U(W * C)
    for n in range(N):
        for r in range(Hp):
            o = _U((n * Hp + r) * Wp * C)
            h = r - top
            if h < 0 or h >= H:
                for j in range(_U(Wp * C)):
                    pf[o + j] = 0
                continue
            for j in range(_U(left * C)):
                pf[o + j] = 0
            s = _U((n * H + h) * W * C)
            d = o + _U(left * C)
            for j in range(row):
                pf[d + j] = xf[s + j]
            for j in range(_U((left + W) * C), _U(Wp * C)):
                pf[o + j] = 0


@njit(nogil=True, cache=True)
def crop_input(xp, top, left, dx):
    """``dx[n, h, w, c] = xp[n, top + h, left + w, c]``: the adjoint of ``pad_input`` (overwrites ``dx``)."""
    N, H, W, C = dx.shape
    Hp, Wp = xp.shape[1], xp.shape[2]
    pf = xp.reshape(-1)
    xf = dx.reshape(-1)
    row = _U(W * C)
    for n in range(N):
        for h in range(H):
            s = _U(((n * Hp + h + top) * Wp + left) * C)
            d = _U((n * H + h) * W * C)
            for j in range(row):
                xf[d + j] = pf[s + j]


# ---------------------------------------------------------------------------------------------- transforms
@njit(nogil=True, cache=True)
def input_transform(xp, TH, TW, V):
    """``V[i*6 + j, t, c] = (B^T d_t B)[i, j]`` for channel ``c`` of each 6x6 tile ``d_t`` of the padded input.

    Shape: ``xp (n, TH*4 + 2, TW*4 + 2, C)`` (``pad_input``), ``V (36, Tp, C)`` with ``Tp >= n*TH*TW`` (the
    rows past ``n*TH*TW`` are not written; see ``numba.winograd._rows``).
    """
    N, Hp, Wp, C = xp.shape
    T, Tp = N * TH * TW, V.shape[1]
    xf = xp.reshape(-1)
    vf = V.reshape(-1)
    h = np.empty(_A * _A * C, dtype=xp.dtype)  # B^T applied along rows: h[k, j, c]
    uC, uC2, uC3, uC4, uC5 = _multiples(C)  # between tile columns in xp and in h
    row, row2, row3, row4, row5 = _multiples(_A * C)  # between rows of h
    pt6, pt62, pt63, pt64, pt65 = _multiples(_A * Tp * C)  # between points (i, j) and (i + 1, j) in V
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for k in range(_A):
            s = _U(((n * Hp + th * _M + k) * Wp + tw * _M) * C)
            o = _U(k * _A * C)
            for c in range(uC):
                v0, v1, v2, v3, v4, v5 = _bt(xf[s + c], xf[s + uC + c], xf[s + uC2 + c], xf[s + uC3 + c],
                                             xf[s + uC4 + c], xf[s + uC5 + c])
                h[o + c] = v0
                h[o + uC + c] = v1
                h[o + uC2 + c] = v2
                h[o + uC3 + c] = v3
                h[o + uC4 + c] = v4
                h[o + uC5 + c] = v5
        for j in range(_A):
            s = _U(j * C)
            o = _U((j * Tp + t) * C)
            for c in range(uC):
                v0, v1, v2, v3, v4, v5 = _bt(h[s + c], h[s + row + c], h[s + row2 + c], h[s + row3 + c],
                                             h[s + row4 + c], h[s + row5 + c])
                vf[o + c] = v0
                vf[o + pt6 + c] = v1
                vf[o + pt62 + c] = v2
                vf[o + pt63 + c] = v3
                vf[o + pt64 + c] = v4
                vf[o + pt65 + c] = v5


@njit(nogil=True, cache=True)
def input_adjoint(dV, TH, TW, dxp):
    """Adjoint of ``input_transform``: ``dxp`` = sum over tiles of ``B dV_t B^T``, each added where the tile was read.

    Shape: ``dV (36, Tp, C)`` (``Tp >= n*TH*TW``), ``dxp (n, TH*4 + 2, TW*4 + 2, C)`` (overwritten: zeroed
    first; tiles overlap by 2, so one thread must own the whole chunk).
    """
    N, Hp, Wp, C = dxp.shape
    T, Tp = N * TH * TW, dV.shape[1]
    vf = dV.reshape(-1)
    xf = dxp.reshape(-1)
    h = np.empty(_A * _A * C, dtype=dxp.dtype)  # B applied along the points' second index: h[i, l, c]
    uC, uC2, uC3, uC4, uC5 = _multiples(C)  # between columns of h
    row, row2, row3, row4, row5 = _multiples(_A * C)  # between rows of h
    point, point2, point3, point4, point5 = _multiples(Tp * C)  # between points (i, j) and (i, j + 1) in dV
    line, line2, line3, line4, line5 = _multiples(Wp * C)  # between rows of dxp
    for j in range(_U(N * Hp * Wp * C)):
        xf[j] = 0
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for i in range(_A):
            s = _U((i * _A * Tp + t) * C)
            o = _U(i * _A * C)
            for c in range(uC):
                d0, d1, d2, d3, d4, d5 = _b(vf[s + c], vf[s + point + c], vf[s + point2 + c],
                                            vf[s + point3 + c], vf[s + point4 + c], vf[s + point5 + c])
                h[o + c] = d0
                h[o + uC + c] = d1
                h[o + uC2 + c] = d2
                h[o + uC3 + c] = d3
                h[o + uC4 + c] = d4
                h[o + uC5 + c] = d5
        for l in range(_A):
            s = _U(l * C)
            o = _U(((n * Hp + th * _M) * Wp + tw * _M + l) * C)
            for c in range(uC):
                d0, d1, d2, d3, d4, d5 = _b(h[s + c], h[s + row + c], h[s + row2 + c], h[s + row3 + c],
                                            h[s + row4 + c], h[s + row5 + c])
                xf[o + c] += d0
                xf[o + line + c] += d1
                xf[o + line2 + c] += d2
                xf[o + line3 + c] += d3
                xf[o + line4 + c] += d4
                xf[o + line5 + c] += d5


@njit(nogil=True, cache=True)
def output_transform(M, b, TH, TW, z):
    """``z[n, th*4 + x, tw*4 + y, f] = (A^T M_t A)[x, y] + b[f]`` for every tile.

    Shape: ``M (36, Tp, F)`` (``Tp >= n*TH*TW``), ``b (F,)``, ``z (n, TH*4, TW*4, F)`` (overwritten).
    """
    N, Z_H, Z_W, F = z.shape
    T, Tp = N * TH * TW, M.shape[1]
    mf = M.reshape(-1)
    zf = z.reshape(-1)
    h = np.empty(_M * _A * F, dtype=z.dtype)  # A^T applied along the points' first index: h[x, j, f]
    uF, uF2, uF3, uF4, uF5 = _multiples(F)  # between columns of h and of z
    row, row2, row3, row4, row5 = _multiples(_A * F)  # between rows of h
    pt6, pt62, pt63, pt64, pt65 = _multiples(_A * Tp * F)  # between points (i, j) and (i + 1, j) in M
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for j in range(_A):
            s = _U((j * Tp + t) * F)
            o = _U(j * F)
            for f in range(uF):
                y0, y1, y2, y3 = _at(mf[s + f], mf[s + pt6 + f], mf[s + pt62 + f], mf[s + pt63 + f],
                                     mf[s + pt64 + f], mf[s + pt65 + f])
                h[o + f] = y0
                h[o + row + f] = y1
                h[o + row2 + f] = y2
                h[o + row3 + f] = y3
        for x in range(_M):
            s = _U(x * _A * F)
            o = _U(((n * Z_H + th * _M + x) * Z_W + tw * _M) * F)
            for f in range(uF):
                y0, y1, y2, y3 = _at(h[s + f], h[s + uF + f], h[s + uF2 + f], h[s + uF3 + f], h[s + uF4 + f],
                                     h[s + uF5 + f])
                zf[o + f] = y0 + b[f]
                zf[o + uF + f] = y1 + b[f]
                zf[o + uF2 + f] = y2 + b[f]
                zf[o + uF3 + f] = y3 + b[f]


@njit(nogil=True, cache=True)
def output_adjoint(dz, TH, TW, dM):
    """Adjoint of ``output_transform``: ``dM[i*6 + j, t, f] = (A dY_t A^T)[i, j]``, ``dY_t`` the tile of ``dz``.

    Shape: ``dz (n, TH*4, TW*4, F)``, ``dM (36, Tp, F)`` (``Tp >= n*TH*TW``).
    """
    N, Z_H, Z_W, F = dz.shape
    T, Tp = N * TH * TW, dM.shape[1]
    df = dz.reshape(-1)
    mf = dM.reshape(-1)
    h = np.empty(_M * _A * F, dtype=dz.dtype)  # A applied along output columns: h[x, j, f]
    uF, uF2, uF3, uF4, uF5 = _multiples(F)  # between columns of dz and of h
    row, row2, row3, row4, row5 = _multiples(_A * F)  # between rows of h
    pt6, pt62, pt63, pt64, pt65 = _multiples(_A * Tp * F)  # between points (i, j) and (i + 1, j) in dM
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for x in range(_M):
            s = _U(((n * Z_H + th * _M + x) * Z_W + tw * _M) * F)
            o = _U(x * _A * F)
            for f in range(uF):
                a0, a1, a2, a3, a4, a5 = _a(df[s + f], df[s + uF + f], df[s + uF2 + f], df[s + uF3 + f])
                h[o + f] = a0
                h[o + uF + f] = a1
                h[o + uF2 + f] = a2
                h[o + uF3 + f] = a3
                h[o + uF4 + f] = a4
                h[o + uF5 + f] = a5
        for j in range(_A):
            s = _U(j * F)
            o = _U((j * Tp + t) * F)
            for f in range(uF):
                a0, a1, a2, a3, a4, a5 = _a(h[s + f], h[s + row + f], h[s + row2 + f], h[s + row3 + f])
                mf[o + f] = a0
                mf[o + pt6 + f] = a1
                mf[o + pt62 + f] = a2
                mf[o + pt63 + f] = a3
                mf[o + pt64 + f] = a4
                mf[o + pt65 + f] = a5
