"""Slow, obviously correct convolution by explicit loops: the reference the fast kernels are tested against.

``y[n, f, oh, ow] = b[f] + sum_{c, kh, kw} W[f, c, kh, kw] * xpad[n, c, oh*SH + kh, ow*SW + kw]``
"""
from __future__ import annotations

import numpy as np

from handgrad.kernels.conv_geometry import ConvGeometry


def _pad(x, g: ConvGeometry):
    return np.pad(x, ((0, 0), (0, 0), (g.top, g.bottom), (g.left, g.right)))


def conv_forward_loops(x, W, b, g: ConvGeometry):
    """``x (N, C, H, W)``, ``W (F, C, KH, KW)``, ``b (F,)`` or None -> ``y (N, F, OH, OW)``."""
    N, F = x.shape[0], W.shape[0]
    xp = _pad(x, g)
    y = np.zeros((N, F, g.OH, g.OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for oh in range(g.OH):
                for ow in range(g.OW):
                    window = xp[n, :, oh * g.SH : oh * g.SH + g.KH, ow * g.SW : ow * g.SW + g.KW]
                    y[n, f, oh, ow] = np.sum(window * W[f]) + (b[f] if b is not None else 0)
    return y


def conv_backward_loops(dy, x, W, g: ConvGeometry):
    """Gradients ``(dW, db, dx)`` of ``sum(dy * conv(x, W, b))`` by the same loops (every kernel's order)."""
    N, F = x.shape[0], W.shape[0]
    xp = _pad(x, g)
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    for n in range(N):
        for f in range(F):
            for oh in range(g.OH):
                for ow in range(g.OW):
                    hs, ws = oh * g.SH, ow * g.SW
                    dW[f] += dy[n, f, oh, ow] * xp[n, :, hs : hs + g.KH, ws : ws + g.KW]
                    dxp[n, :, hs : hs + g.KH, ws : ws + g.KW] += dy[n, f, oh, ow] * W[f]
    H, Wd = x.shape[2:]
    dx = dxp[:, :, g.top : g.top + H, g.left : g.left + Wd]
    db = dy.sum(axis=(0, 2, 3))
    return dW, db, dx
