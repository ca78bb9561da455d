"""The numba loops behind ``handgrad.kernels.winograd_fast``: the four tile transforms, vectorized over channels.

Each loop handles a chunk of whole images, serially, releasing the GIL (the thread team runs one chunk per
thread), with channels innermost and flat unsigned offsets (see ``numba_loops`` for why both matter). Tiles are
``alpha x alpha`` (6x6 for both transforms of ``winograd.TRANSFORMS``); a transform is two passes of small
matrix products per tile, with the tile and its half-transformed copy in a scratch of ``alpha^2 * C`` floats
(L1-resident). Zero coefficients are skipped (a branch per coefficient, outside the channel loop). Each update
reads one channel run and writes another: writing each output run once from its six inputs was 1.5-3x
slower (numba's loops then did not vectorize). Tile ``t = (n*TH + th)*TW + tw`` of a chunk reads input rows
``th*m - top + k`` and columns ``tw*m - left + l`` (``k, l < alpha``; outside the image: zeros) and writes
output rows ``th*m + x`` and columns ``tw*m + y`` (``x, y < m``; past ``OH``, ``OW``: dropped). Transformed
arrays are point-major, ``(alpha^2, T, channels)``, so that each point's matrix product reads a contiguous
``(T, channels)`` matrix. Notation as in ``handgrad.kernels.winograd``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_U = np.uint64  # unsigned flat offsets: no negative-index checks in the vectorized loops


@njit(nogil=True, cache=True)
def input_transform(x, BT, top, left, TH, TW, m, V):
    """``V[i*alpha + j, t, c] = (B^T d_t B)[i, j]`` for channel ``c`` of each tile ``d_t`` of the input.

    Shape: ``x (n, H, W, C)``, ``BT (alpha, alpha)``, ``V (alpha^2, n*TH*TW, C)``.
    """
    N, H, W, C = x.shape
    a = BT.shape[0]
    T = N * TH * TW
    xf = x.reshape(-1)
    vf = V.reshape(-1)
    d = np.empty(a * a * C, dtype=x.dtype)  # the tile, (k, l, c)
    h = np.empty(a * a * C, dtype=x.dtype)  # B^T d, (i, l, c)
    uC = _U(C)
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for k in range(a):
            ih = th * m - top + k
            for l in range(a):
                iw = tw * m - left + l
                o = _U((k * a + l) * C)
                if 0 <= ih < H and 0 <= iw < W:
                    s = _U(((n * H + ih) * W + iw) * C)
                    for c in range(uC):
                        d[o + c] = xf[s + c]
                else:
                    for c in range(uC):
                        d[o + c] = 0
        for i in range(a):  # h[i, l] = sum_k BT[i, k] d[k, l]
            for l in range(a):
                o = _U((i * a + l) * C)
                for c in range(uC):
                    h[o + c] = 0
                for k in range(a):
                    coef = BT[i, k]
                    if coef != 0:
                        s = _U((k * a + l) * C)
                        for c in range(uC):
                            h[o + c] += coef * d[s + c]
        for i in range(a):  # V[i, j] = sum_l h[i, l] BT[j, l]
            for j in range(a):
                o = _U(((i * a + j) * T + t) * C)
                for c in range(uC):
                    vf[o + c] = 0
                for l in range(a):
                    coef = BT[j, l]
                    if coef != 0:
                        s = _U((i * a + l) * C)
                        for c in range(uC):
                            vf[o + c] += coef * h[s + c]


@njit(nogil=True, cache=True)
def output_transform(M, AT, b, TH, TW, z):
    """``z[n, th*m + x, tw*m + y, f] = (A^T M_t A)[x, y] + b[f]`` for each tile inside ``z``.

    Shape: ``M (alpha^2, n*TH*TW, F)``, ``AT (m, alpha)``, ``b (F,)``, ``z (n, OH, OW, F)`` (overwritten).
    """
    N, OH, OW, F = z.shape
    m, a = AT.shape
    T = N * TH * TW
    mf = M.reshape(-1)
    zf = z.reshape(-1)
    h = np.empty(m * a * F, dtype=z.dtype)  # A^T M, (x, j, f)
    uF = _U(F)
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for x in range(m):  # h[x, j] = sum_i AT[x, i] M[i, j]
            for j in range(a):
                o = _U((x * a + j) * F)
                for f in range(uF):
                    h[o + f] = 0
                for i in range(a):
                    coef = AT[x, i]
                    if coef != 0:
                        s = _U(((i * a + j) * T + t) * F)
                        for f in range(uF):
                            h[o + f] += coef * mf[s + f]
        for x in range(m):  # z[x, y] = b + sum_j h[x, j] AT[y, j]
            oh = th * m + x
            if oh >= OH:
                break
            for y in range(m):
                ow = tw * m + y
                if ow >= OW:
                    break
                o = _U(((n * OH + oh) * OW + ow) * F)
                for f in range(uF):
                    zf[o + f] = b[f]
                for j in range(a):
                    coef = AT[y, j]
                    if coef != 0:
                        s = _U((x * a + j) * F)
                        for f in range(uF):
                            zf[o + f] += coef * h[s + f]


@njit(nogil=True, cache=True)
def output_adjoint(dz, AT, TH, TW, dM):
    """Adjoint of ``output_transform``: ``dM[i*alpha + j, t, f] = (A dY_t A^T)[i, j]``, ``dY_t`` the tile of ``dz``.

    Shape: ``dz (n, OH, OW, F)`` (zeros past its edges), ``AT (m, alpha)``, ``dM (alpha^2, n*TH*TW, F)``.
    """
    N, OH, OW, F = dz.shape
    m, a = AT.shape
    T = N * TH * TW
    df = dz.reshape(-1)
    mf = dM.reshape(-1)
    h = np.empty(a * m * F, dtype=dz.dtype)  # A dY, (i, y, f)
    uF = _U(F)
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for i in range(a):  # h[i, y] = sum_x AT[x, i] dY[x, y]
            for y in range(m):
                o = _U((i * m + y) * F)
                for f in range(uF):
                    h[o + f] = 0
                ow = tw * m + y
                if ow >= OW:
                    continue
                for x in range(m):
                    oh = th * m + x
                    coef = AT[x, i]
                    if oh < OH and coef != 0:
                        s = _U(((n * OH + oh) * OW + ow) * F)
                        for f in range(uF):
                            h[o + f] += coef * df[s + f]
        for i in range(a):  # dM[i, j] = sum_y h[i, y] AT[y, j]
            for j in range(a):
                o = _U(((i * a + j) * T + t) * F)
                for f in range(uF):
                    mf[o + f] = 0
                for y in range(m):
                    coef = AT[y, j]
                    if coef != 0:
                        s = _U((i * m + y) * F)
                        for f in range(uF):
                            mf[o + f] += coef * h[s + f]


@njit(nogil=True, cache=True)
def input_adjoint(dV, BT, top, left, TH, TW, m, dx):
    """Adjoint of ``input_transform``: ``dx`` = sum over tiles of ``B dV_t B^T``, each added where the tile was read.

    Shape: ``dV (alpha^2, n*TH*TW, C)``, ``BT (alpha, alpha)``, ``dx (n, H, W, C)`` (overwritten: zeroed first;
    tiles overlap by ``alpha - m``, so one thread must own the whole chunk).
    """
    N, H, W, C = dx.shape
    a = BT.shape[0]
    T = N * TH * TW
    vf = dV.reshape(-1)
    xf = dx.reshape(-1)
    h = np.empty(a * a * C, dtype=dx.dtype)  # dV B^T, (i, l, c)
    uC = _U(C)
    for j in range(_U(N * H * W * C)):
        xf[j] = 0
    for t in range(T):
        n = t // (TH * TW)
        th = (t // TW) % TH
        tw = t % TW
        for i in range(a):  # h[i, l] = sum_j dV[i, j] BT[j, l]
            for l in range(a):
                o = _U((i * a + l) * C)
                for c in range(uC):
                    h[o + c] = 0
                for j in range(a):
                    coef = BT[j, l]
                    if coef != 0:
                        s = _U(((i * a + j) * T + t) * C)
                        for c in range(uC):
                            h[o + c] += coef * vf[s + c]
        for k in range(a):  # dx[k, l] += sum_i BT[i, k] h[i, l]
            ih = th * m - top + k
            if ih < 0 or ih >= H:
                continue
            for l in range(a):
                iw = tw * m - left + l
                if iw < 0 or iw >= W:
                    continue
                o = _U(((n * H + ih) * W + iw) * C)
                for i in range(a):
                    coef = BT[i, k]
                    if coef != 0:
                        s = _U((i * a + l) * C)
                        for c in range(uC):
                            xf[o + c] += coef * h[s + c]
