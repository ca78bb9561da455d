r"""Winograd convolution: the transforms, the NumPy reference kernels, and their float error bounds.

Winograd's minimal filtering ``F(m, r)`` computes ``m`` outputs of an ``r``-tap correlation from a tile of
``alpha = m + r - 1`` inputs with ``alpha`` products instead of ``m*r``:

    ``y = A^T [(G g) * (B^T d)]``, 2-D (nested): ``Y = A^T [(G g G^T) * (B^T d B)] A``

with ``d`` an ``alpha x alpha`` input tile, ``g`` an ``r x r`` kernel, ``Y`` an ``m x m`` output tile and
``*`` the element-wise product. Summed over the input channels, the ``alpha^2`` element-wise products of a
layer are ``alpha^2`` independent matrix products ``(tiles, C) @ (C, F)`` (one per transform point pair):
``M[p] = V[p] @ U[p]``, ``V = B^T d B`` per tile and channel, ``U = G g G^T`` per channel and filter.

Which convolutions (``TRANSFORMS``): stride 1 with a 5x5 kernel: ``F(4x4, 5x5)``, 64 products for 16
outputs where im2col does 25 multiply-adds per output (6.25x fewer; ``F(2x2, 5x5)``, 36 products for 4
outputs, saves 2.78x); 3x3: ``F(4x4, 3x3)``, 36 products for 16 outputs instead of 9 each (4x fewer). Tiles
are 8x8 (5x5) and 6x6 (3x3); any padding works (tiles that run past the output read zeros and their extra
outputs are dropped).

The transform points (Toom-Cook, ``toom_cook``, ``POINTS``): ``0, 2, -2, 1/2, -1/2`` and infinity for 6x6
tiles, ``0, +-1, +-2, +-1/2`` and infinity for 8x8. The classic choice ``0, 1, -1, 2, -2`` (Lavin & Gray)
multiplies the worst-case error bound below by 133 (F(2,5)) and 256 (F(4,3)) relative to a direct sum of the
same terms; ``0, +-2, +-1/2`` by 35 and 54, the smallest among all 5-point sets of ``0, +-1, +-2, +-1/2,
+-3/2, +-1/4, +-3`` we compared (searched exhaustively; the measured float32 errors follow the bound's
order). F(4,5) needs 7 finite points; with ``0, +-1, +-2, +-1/2`` its factor is 301 (the price of 2.25x fewer
products than F(2,5)). All entries of ``A`` and ``B`` are then dyadic (exact in float32); ``G`` holds
fractions such as ``1/30``, so the kernel transform ``U`` is computed in float64 and rounded once.

Error bound (float rounding, unit roundoff ``u``, ``gamma_n = n u / (1 - n u)``, ``|.|`` element-wise
absolute values; Higham's bound for inner products, valid in any summation order, with or without FMA):

    forward ``|z_hat - z| <= gamma_nz (|A^T| [sum_c (|G||g_c||G^T|) * (|B^T||d_c||B|)] |A| + |b|)``,
    ``nz = 4 alpha + C + 3`` (input transform ``2 alpha``, products ``C``, output transform ``2 alpha``,
    ``U`` rounded ``2``, bias ``1``).

The right-hand side is this same algorithm run in float64 on absolute values with absolute transform matrices;
``error_bounds`` computes it, for the gradients too (their ``n`` is in its docstring). For float32 and conv2
of the reference network (C = 32) ``gamma_nz = 4.0e-6`` (F(4,5), ``nz = 67``); im2col's bound is
``gamma_{C r^2 + 1} sum |g||d|``, and Winograd's right-hand side is larger by up to the factor above (301 for F(4,5)).
Measured in float32 (random N(0, 1) inputs, kernels and output gradients, batch 4, error relative to the
largest exact value, the fast kernels; ``tests/kernels/test_winograd.py`` tests the bound element-wise and the
ratio): 5x5 32->64 on 14x14, F(4x4, 5x5), forward / dx / dW max errors 4.1e-6 / 5.1e-6 / 5.8e-6 (im2col
5.7e-7 / 2.3e-7 / 3.2e-7; F(2x2, 5x5) measured 1.5e-6 / 1.9e-6 / 4.5e-6); on 16x16, 6.7e-6 / 4.4e-6 / 8.0e-6; 3x3
32->64 on 16x16, F(4x4, 3x3), 2.3e-6 / 2.7e-6 / 1.7e-6. The bound is 1e3 to 1e4 times the measured error
(worst case over signs), and 6e-4 (3x3 forward) to 1.4e-2 (5x5 dx) of the largest value.

This module is the reference: vectorized NumPy (``einsum`` over all tiles at once), written step by step as
the formulas above; ``handgrad.kernels.winograd_fast`` computes the same in chunks with numba loops and is
tested against it. The functions have the signatures of ``handgrad.kernels.reference``'s convolution.

Notation: ``N`` batch, ``C`` input channels, ``F`` filters, ``H, W`` input size, ``OH, OW`` output size,
``TH = ceil(OH / m)``, ``TW = ceil(OW / m)`` tiles per image, ``T = N*TH*TW`` tiles, ``P = alpha^2`` points.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad.kernels.conv_geometry import ConvGeometry

# The finite transform points per tile size alpha (and infinity): see the module docstring for the choice.
POINTS = {6: (Fraction(0), Fraction(2), Fraction(-2), Fraction(1, 2), Fraction(-1, 2)),
          8: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), Fraction(1, 2), Fraction(-1, 2))}


class WinogradTransform(NamedTuple):
    """``F(m x m, r x r)``: ``AT (m, alpha)``, ``G (alpha, r)``, ``BT (alpha, alpha)`` in float64."""
    m: int
    r: int
    alpha: int
    AT: np.ndarray
    G: np.ndarray
    BT: np.ndarray

    @property
    def name(self) -> str:
        return f"F({self.m}x{self.m},{self.r}x{self.r})"

    def absolute(self) -> "WinogradTransform":
        """The same transform with every matrix entry replaced by its absolute value (for error bounds)."""
        return self._replace(AT=np.abs(self.AT), G=np.abs(self.G), BT=np.abs(self.BT))


def _polymul(a, b):
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def toom_cook(m: int, r: int, points=None) -> WinogradTransform:
    """The 1-D ``F(m, r)`` matrices from ``alpha - 1`` finite points ``p_j`` and infinity, in exact arithmetic.

    Correlation is the transpose of polynomial multiplication, whose Toom-Cook algorithm evaluates both
    factors at the points, multiplies, and interpolates. Transposed: ``A^T[i, j] = p_j^i`` (last column
    ``e_{m-1}``: infinity), ``G[j, k] = p_j^k / f_j`` with ``f_j = prod_{l != j} (p_j - p_l)`` (last row
    ``e_{r-1}``), and row ``j`` of ``B^T`` holds the coefficients (ascending powers) of
    ``prod_{l != j} (x - p_l)``, the last row those of ``prod_l (x - p_l)``. The divisions by ``f_j`` sit in
    ``G``, so that ``A`` and ``B`` are exact for dyadic points. ``points`` defaults to ``POINTS[alpha]`` (other
    tile sizes: the first ``alpha - 1`` of ``POINTS[8]``).
    """
    alpha = m + r - 1
    if points is None:
        points = POINTS.get(alpha, POINTS[8][: alpha - 1])
    points = [Fraction(p) for p in points]
    if len(points) != alpha - 1 or len(set(points)) != len(points):
        raise ValueError(f"toom_cook: F({m}, {r}) needs {alpha - 1} distinct points, got {points}")
    AT = [[p**i for p in points] + [Fraction(int(i == m - 1))] for i in range(m)]
    BT, G = [], []
    for j, p in enumerate(points):
        poly, f = [Fraction(1)], Fraction(1)
        for q in points[:j] + points[j + 1 :]:
            poly, f = _polymul(poly, [-q, Fraction(1)]), f * (p - q)
        BT.append(poly + [Fraction(0)])
        G.append([p**k / f for k in range(r)])
    poly = [Fraction(1)]
    for q in points:
        poly = _polymul(poly, [-q, Fraction(1)])
    BT.append(poly)
    G.append([Fraction(int(k == r - 1)) for k in range(r)])
    as_float = lambda rows: np.array([[float(v) for v in row] for row in rows])  # noqa: E731
    return WinogradTransform(m, r, alpha, as_float(AT), as_float(G), as_float(BT))


# Kernel size -> output tile size m: 4x4 outputs per tile, from 6x6 tiles (3x3 kernels, 36 products) or 8x8
# tiles (5x5 kernels, 64 products).
TILE_FOR_KERNEL = {3: 4, 5: 4}
TRANSFORMS = {r: toom_cook(m, r) for r, m in TILE_FOR_KERNEL.items()}


def supported(kernel_size, stride) -> bool:
    """Whether ``kernel_size``/``stride`` (pairs) have a Winograd transform: stride 1, a 3x3 or 5x5 kernel."""
    return tuple(stride) == (1, 1) and kernel_size[0] == kernel_size[1] and kernel_size[0] in TRANSFORMS


ALGORITHMS = ("auto", "im2col", "winograd")
# "auto" takes Winograd from this many input channels on: below, each point's product (T, C) @ (C, F) is too
# thin for BLAS and the transforms (per tile and channel) outweigh the multiplications saved. Measured by
# ``python benchmarks/conv_algorithms.py`` (2 cores of an Intel Xeon with AVX-512, batch 64, forward + backward,
# im2col / Winograd ms): 5x5 32->64 on 14x14: 27.6 / 13.1; 16x16: 36.3 / 12.3; 64->64 on 8x8: 20.5 / 8.3;
# 16->32 on 14x14: 8.1 / 6.2; 8->32: 5.6 / 5.7; 3->32 on 32x32: 12.9 / 10.2 (with its input gradient; as the
# reference network's first layer, without one, and with 1 channel, Winograd made the whole training step
# slower: ``throughput.py --algorithm auto winograd``); 3x3 32->64 on 16x16: 13.1 / 7.2; 3x3 16->32: 5.3 / 4.0.
AUTO_MIN_CHANNELS = 16


def auto_algorithm(kernel_size, stride, C: int, F: int, fast: bool) -> str:
    """``"winograd"`` when ``supported``, the numba kernels run and ``C >= AUTO_MIN_CHANNELS``, else ``"im2col"``.

    The NumPy reference of Winograd is not meant to be fast, so with the NumPy kernels "auto" is im2col.
    """
    if fast and supported(kernel_size, stride) and C >= AUTO_MIN_CHANNELS:
        return "winograd"
    return "im2col"


def transform_for(g: ConvGeometry) -> WinogradTransform:
    """The transform of a supported geometry (``supported(...)`` checked by the layer)."""
    if not supported((g.KH, g.KW), (g.SH, g.SW)):
        raise ValueError(f"winograd: needs stride 1 and a 3x3 or 5x5 kernel, got kernel ({g.KH}, {g.KW}) "
                         f"and stride ({g.SH}, {g.SW})")
    return TRANSFORMS[g.KH]


def tiles(g: ConvGeometry, m: int) -> tuple[int, int]:
    """``(TH, TW) = (ceil(OH / m), ceil(OW / m))``: output tiles per image."""
    return -(-g.OH // m), -(-g.OW // m)


def matmul_flops(N: int, C: int, F: int, g: ConvGeometry) -> int:
    """FLOPs of one pass's products (forward, input or weight gradient): ``2 * alpha^2 * T * C * F``."""
    t = transform_for(g)
    TH, TW = tiles(g, t.m)
    return 2 * t.alpha**2 * N * TH * TW * C * F


def _kron(t: WinogradTransform) -> np.ndarray:
    """``G (x) G``, ``(alpha^2, r^2)``: ``U[i*alpha + j] = sum_{k,l} G[i, k] G[j, l] g[k, l]`` as one matrix."""
    return np.kron(t.G, t.G)


def kernel_transform(W: np.ndarray, t: WinogradTransform) -> np.ndarray:
    """``U[p, c, f] = (G W[f, c] G^T)[i, j]`` with ``p = i*alpha + j``, computed in float64: ``(P, C, F)``.

    One product ``(G (x) G) @ W'`` with ``W'[k*r + l, c*F + f] = W[f, c, k, l]`` (a product of two ``G``
    entries per term, each rounded once in float64: far below the float32 rounding of ``U``).
    """
    F, C, r = W.shape[:3]
    Wt = W.astype(np.float64).transpose(2, 3, 1, 0).reshape(r * r, C * F)  # (r^2, C*F)
    return (_kron(t) @ Wt).reshape(t.alpha**2, C, F)


def kernel_gradient(dU: np.ndarray, t: WinogradTransform) -> np.ndarray:
    """Adjoint of ``kernel_transform``: ``dW[f, c] = G^T dU[:, c, f] G`` in float64, ``(P, C, F) -> (F, C, r, r)``."""
    P, C, F = dU.shape
    dWt = _kron(t).T @ dU.reshape(P, C * F).astype(np.float64)  # (r^2, C*F)
    return dWt.reshape(t.r, t.r, C, F).transpose(3, 2, 0, 1)


# ---------------------------------------------------------------------------------------------- kernels
def _input_tiles(x: np.ndarray, g: ConvGeometry, t: WinogradTransform) -> np.ndarray:
    """Overlapping ``alpha x alpha`` tiles of the zero-padded input: ``(N, TH, TW, alpha, alpha, C)`` (a view).

    Padding: ``top``/``left`` as the geometry, ``bottom``/``right`` up to ``TH*m + r - 1`` rows/columns.
    """
    TH, TW = tiles(g, t.m)
    H, W = x.shape[2:]
    bottom = TH * t.m + t.r - 1 - H - g.top
    right = TW * t.m + t.r - 1 - W - g.left
    xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (g.top, bottom), (g.left, right), (0, 0)))  # (N, Hp, Wp, C)
    windows = sliding_window_view(xp, (t.alpha, t.alpha), axis=(1, 2))  # (N, Hp-a+1, Wp-a+1, C, a, a)
    return windows[:, :: t.m, :: t.m].transpose(0, 1, 2, 4, 5, 3)  # (N, TH, TW, a, a, C)


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, g: ConvGeometry, transform=None):
    """``z = conv(x, W) + b`` by Winograd ``F(m x m, r x r)``; returns ``(z, cache)``.

    Shape: ``x (N, C, H, W)``, ``W (F, C, r, r)``, ``b (F,)`` or None -> ``z (N, F, OH, OW)`` (channels last in
    memory). Steps: ``U = G g G^T`` (float64, rounded to ``x.dtype``), ``V = B^T d B`` per tile,
    ``M[p] = V[p] @ U[p]`` (``P`` products ``(T, C) @ (C, F)``), ``Y = A^T M A`` per tile, cropped to
    ``OH x OW``, plus ``b``. ``transform`` defaults to ``TRANSFORMS[r]`` (``error_bounds`` passes another).
    """
    t = transform if transform is not None else transform_for(g)
    dtype = x.dtype
    N, C = x.shape[:2]
    F = W.shape[0]
    TH, TW = tiles(g, t.m)
    AT, BT = t.AT.astype(dtype), t.BT.astype(dtype)
    U = kernel_transform(W, t).astype(dtype)  # (P, C, F)
    d = _input_tiles(x, g, t)  # (N, TH, TW, a, a, C)
    V = np.einsum("ik,ntwklc,jl->ijntwc", BT, d, BT).reshape(t.alpha**2, N * TH * TW, C)  # (P, T, C)
    M = V @ U  # (P, T, F)
    M = M.reshape(t.alpha, t.alpha, N, TH, TW, F)
    Y = np.einsum("ai,ijntwf,bj->ntawbf", AT, M, AT)  # (N, TH, m, TW, m, F)
    z = Y.reshape(N, TH * t.m, TW * t.m, F)[:, : g.OH, : g.OW]  # (N, OH, OW, F)
    if b is not None:
        z = z + b
    z = np.ascontiguousarray(z).transpose(0, 3, 1, 2)  # (N, F, OH, OW), channels last
    return z, (x.shape, V, U, t)


def conv2d_backward(dz: np.ndarray, cache, g: ConvGeometry, input_grad: bool = True):
    """Gradients ``(dW, db, dx)`` of the forward pass above: each step's adjoint, in reverse order.

    ``dM = A dY A^T`` per tile (``dY`` = ``dz`` zero-padded to whole tiles), then
    ``dU[p] = V[p]^T @ dM[p]`` and ``dW = G^T dU G`` (float64); ``dV[p] = dM[p] @ U[p]^T`` and
    ``dd = B dV B^T`` per tile, added back where each tile was read (tiles overlap by ``r - 1``), cropped to
    the input. ``dx`` is the correlation of the padded ``dz`` with the flipped kernel, i.e. the transposed
    algorithm here gives the same as the forward algorithm run on ``W[:, :, ::-1, ::-1]`` with channels
    swapped (the tests check both). Shapes as ``reference.conv2d_backward``.
    """
    x_shape, V, U, t = cache
    N, C, H, W = x_shape
    F = U.shape[2]
    dtype = V.dtype
    TH, TW = tiles(g, t.m)
    AT, BT = t.AT.astype(dtype), t.BT.astype(dtype)
    dY = np.zeros((N, TH * t.m, TW * t.m, F), dtype=dtype)
    dY[:, : g.OH, : g.OW] = dz.transpose(0, 2, 3, 1)
    dY = dY.reshape(N, TH, t.m, TW, t.m, F)
    dM = np.einsum("ai,ntawbf,bj->ijntwf", AT, dY, AT).reshape(t.alpha**2, N * TH * TW, F)  # (P, T, F)
    dU = V.transpose(0, 2, 1) @ dM  # (P, C, F)
    dW = kernel_gradient(dU, t).astype(dtype)  # (F, C, r, r)
    db = dz.sum(axis=(0, 2, 3))
    if not input_grad:
        return dW, db, None
    dV = (dM @ U.transpose(0, 2, 1)).reshape(t.alpha, t.alpha, N, TH, TW, C)  # (a, a, N, TH, TW, C)
    dd = np.einsum("ik,ijntwc,jl->ntwklc", BT, dV, BT)  # (N, TH, TW, a, a, C)
    Hp, Wp = TH * t.m + t.r - 1, TW * t.m + t.r - 1
    dxp = np.zeros((N, Hp, Wp, C), dtype=dtype)
    for k in range(t.alpha):  # adjoint of the overlapping tiles: add each tile offset back where it was read
        for l in range(t.alpha):
            dxp[:, k : k + TH * t.m : t.m, l : l + TW * t.m : t.m] += dd[:, :, :, k, l]
    dx = dxp[:, g.top : g.top + H, g.left : g.left + W].transpose(0, 3, 1, 2)  # (N, C, H, W), channels last
    return dW, db, dx


# ---------------------------------------------------------------------------------------------- error bounds
def gamma(n: int, dtype) -> float:
    """``gamma_n = n u / (1 - n u)``, ``u = eps / 2`` of ``dtype``: the relative error bound of ``n`` roundings."""
    u = np.finfo(dtype).eps / 2
    if n * u >= 1:
        raise ValueError(f"gamma: n = {n} roundings of unit roundoff {u} give no bound")
    return n * u / (1 - n * u)


def error_bounds(x, W, b, dz, g: ConvGeometry, dtype=np.float32) -> dict:
    """Element-wise bounds on the rounding errors of ``conv2d_forward``/``conv2d_backward`` run in ``dtype``.

    Each bound is ``gamma_n * R`` where ``R`` is the same algorithm run in float64 on ``|x|, |W|, |b|, |dz|``
    with ``|A|, |B|, |G|`` (first-order error analysis of every rounding step; the float64 evaluation of
    ``R`` errs by ~1e-16 relative, far below the slack). The errors are measured against the exact results
    of the same (``dtype``-rounded) inputs, e.g. the float64 direct convolution of them. Roundings ``n``:

    - ``z``: ``4 alpha + C + 3`` (see the module docstring); ``R`` includes ``|b|``;
    - ``dW``: ``2m`` (``dM = A dY A^T``) ``+ 2 alpha`` (``V``) ``+ T`` (sum over all tiles) ``+ 2``
      (``dW = G^T dU G`` in float64, rounded);
    - ``dx``: ``2m + 2`` (``dM``, ``U``) ``+ F`` (``dM @ U^T``) ``+ alpha`` (``dV B^T``) ``+ alpha ceil(alpha/m)^2``
      (``B (dV B^T)`` of the up to ``ceil(alpha/m)^2`` overlapping tiles, summed into ``dx`` in one chain);
    - ``db``: ``N*OH*OW`` (a plain sum; ``R = sum |dz|``).

    Returns ``{"z", "dx", "dW", "db"}`` arrays shaped like the results (NCHW, ``(F, C, r, r)``, ``(F,)``).
    """
    t = transform_for(g)
    x, W, dz = (np.abs(np.asarray(a, dtype=np.float64)) for a in (x, W, dz))
    b = np.abs(np.asarray(b, dtype=np.float64)) if b is not None else None
    N, C = x.shape[:2]
    F = W.shape[0]
    TH, TW = tiles(g, t.m)
    R_z, cache = conv2d_forward(x, W, b, g, transform=t.absolute())
    R_dW, R_db, R_dx = conv2d_backward(dz, cache, g)
    return {"z": gamma(4 * t.alpha + C + 3, dtype) * R_z,
            "dW": gamma(2 * t.m + 2 * t.alpha + N * TH * TW + 2, dtype) * R_dW,
            "dx": gamma(2 * t.m + 2 + F + t.alpha + t.alpha * math.ceil(t.alpha / t.m) ** 2, dtype) * R_dx,
            "db": gamma(N * g.OH * g.OW, dtype) * R_db}
