r"""Winograd convolution in NumPy: the reference kernels of ``F(m x m, r x r)`` and their float error bounds.

The transforms (``G``, ``B^T``, ``A^T``, the tiles) are ``handgrad.kernels.winograd_transforms``.

Error bound (float rounding, unit roundoff ``u``, ``gamma_n = n u / (1 - n u)``, ``|.|`` element-wise
absolute values; Higham's bound for inner products, valid in any summation order, with or without FMA):

    forward ``|z_hat - z| <= gamma_nz (|A^T| [sum_c (|G||g_c||G^T|) * (|B^T||d_c||B|)] |A| + |b|)``,
    ``nz = 4 alpha + C + 3`` (input transform ``2 alpha``, products ``C``, output transform ``2 alpha``,
    ``U`` rounded ``2``, bias ``1``).

The right-hand side is this same algorithm run in float64 on absolute values with absolute transform matrices;
``error_bounds`` computes it, for the gradients too (their ``n`` is in its docstring). For float32 and conv2
of the reference network (C = 32) ``gamma_nz = 4.0e-6`` (F(4,5), ``nz = 67``); im2col's bound is
``gamma_{C r^2 + 1} sum |g||d|``, and Winograd's right-hand side is larger by up to the factor above (301 for F(4,5)).
``tests/kernels/test_winograd.py`` tests the bound element-wise; the measured float32 errors are in
``docs/kernel-measurements.md``.

This module is the reference: vectorized NumPy (``einsum`` over all tiles at once), written step by step as
the formulas above; ``handgrad.kernels.numba.winograd`` computes the same in chunks with numba loops and is
tested against it. The functions have the signatures of ``handgrad.kernels.numpy.ops``'s convolution.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad.kernels.conv_geometry import ConvGeometry
from handgrad.kernels.winograd_transforms import (
    WinogradTransform,
    kernel_gradient,
    kernel_transform,
    tiles,
    transform_for,
)


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
