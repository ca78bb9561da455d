r"""Winograd convolution's transforms, shared by both kernel sets (``numpy.winograd``, ``numba.winograd``).

Winograd's minimal filtering ``F(m, r)`` computes ``m`` outputs of an ``r``-tap correlation from a tile of
``alpha = m + r - 1`` inputs with ``alpha`` products instead of ``m*r``:

    ``y = A^T [(G g) * (B^T d)]``, 2-D (nested): ``Y = A^T [(G g G^T) * (B^T d B)] A``

with ``d`` an ``alpha x alpha`` input tile, ``g`` an ``r x r`` kernel, ``Y`` an ``m x m`` output tile and
``*`` the element-wise product. Summed over the input channels, the ``alpha^2`` element-wise products of a
layer are ``alpha^2`` independent matrix products ``(tiles, C) @ (C, F)`` (one per transform point pair):
``M[p] = V[p] @ U[p]``, ``V = B^T d B`` per tile and channel, ``U = G g G^T`` per channel and filter.

Which convolutions (``TRANSFORMS``): stride 1 with a 5x5 kernel: ``F(4x4, 5x5)``, 64 products for 16 outputs
where im2col does 25 multiply-adds per output (6.25x fewer); 3x3: ``F(4x4, 3x3)``, 36 products for 16 outputs
instead of 9 each (4x fewer). Tiles are 8x8 (5x5) and 6x6 (3x3); any padding works (tiles that run past the
output read zeros and their extra outputs are dropped).

The transform points (Toom-Cook, ``toom_cook``, ``POINTS``): ``0, 2, -2, 1/2, -1/2`` and infinity for 6x6 tiles,
``0, +-1, +-2, +-1/2`` and infinity for 8x8. The classic choice ``0, 1, -1, 2, -2`` (Lavin & Gray) multiplies
the worst-case error bound of F(4,3) by 256 relative to a direct sum of the same terms; ``0, +-2, +-1/2`` by 54,
the smallest among the 5-point sets of ``0, +-1, +-2, +-1/2, +-3/2, +-1/4, +-3`` (searched exhaustively). F(4,5)
needs 7 finite points; with ``0, +-1, +-2, +-1/2`` its factor is 301. The search and the measured errors:
``docs/kernel-measurements.md``. All entries of ``A`` and ``B`` are then dyadic (exact in float32); ``G`` holds
fractions such as ``1/30``, so the kernel transform ``U`` is computed in float64 and rounded once.

Notation: ``N`` batch, ``C`` input channels, ``F`` filters, ``H, W`` input size, ``OH, OW`` output size,
``TH = ceil(OH / m)``, ``TW = ceil(OW / m)`` tiles per image, ``T = N*TH*TW`` tiles, ``P = alpha^2`` points.
"""
from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

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


_KRONS: dict[bytes, np.ndarray] = {}


def _kron(t: WinogradTransform) -> np.ndarray:
    """``G (x) G``, ``(alpha^2, r^2)``: ``U[i*alpha + j] = sum_{k,l} G[i, k] G[j, l] g[k, l]`` as one matrix (made
    once per ``G``)."""
    key = t.G.tobytes() + bytes(t.G.shape)
    if key not in _KRONS:
        _KRONS[key] = np.kron(t.G, t.G)
    return _KRONS[key]


def _fresh(name: str, shape) -> np.ndarray:
    """The default ``buffer`` of ``kernel_transform``/``kernel_gradient``: a new float64 array."""
    return np.empty(shape)


def kernel_transform(W: np.ndarray, t: WinogradTransform, buffer=_fresh) -> np.ndarray:
    """``U[p, c, f] = (G W[f, c] G^T)[i, j]`` with ``p = i*alpha + j``, computed in float64: ``(P, C, F)``.

    One product ``(G (x) G) @ W'`` with ``W'[k*r + l, c*F + f] = W[f, c, k, l]`` (a product of two ``G``
    entries per term, each rounded once in float64: far below the float32 rounding of ``U``). ``buffer(name,
    shape)`` gives the float64 arrays ``W'`` and the product are written to (default: new arrays; the numba
    set passes its per-thread scratch); the result is a view of the product's.
    """
    F, C, r = W.shape[:3]
    P = t.alpha**2
    Wt = buffer("kernel_W", (r, r, C, F))
    np.copyto(Wt, W.transpose(2, 3, 1, 0))
    U = buffer("kernel_U", (P, C * F))
    np.matmul(_kron(t), Wt.reshape(r * r, C * F), out=U)
    return U.reshape(P, C, F)


def kernel_gradient(dU: np.ndarray, t: WinogradTransform, buffer=_fresh) -> np.ndarray:
    """Adjoint of ``kernel_transform``: ``dW[f, c] = G^T dU[:, c, f] G`` in float64, ``(P, C, F) -> (F, C, r, r)``
    (a transposed view of the product's ``buffer``, as there)."""
    P, C, F = dU.shape
    dU64 = buffer("kernel_dU", (P, C * F))
    np.copyto(dU64, dU.reshape(P, C * F))
    dWt = buffer("kernel_dW", (t.r * t.r, C * F))
    np.matmul(_kron(t).T, dU64, out=dWt)  # (r^2, C*F)
    return dWt.reshape(t.r, t.r, C, F).transpose(3, 2, 0, 1)
