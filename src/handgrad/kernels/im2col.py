"""im2col / col2im in NumPy, with the channel dimension innermost.

Notation: ``N`` batch, ``C`` channels, ``H, W`` input size, ``KH, KW`` kernel, ``SH, SW`` strides, ``OH, OW``
output size (see ``conv_geometry``).

``cols[n*OH*OW + oh*OW + ow, (kh*KW + kw)*C + c] = xpad[n, c, oh*SH + kh, ow*SW + kw]``

The column order ``(KH, KW, C)`` keeps ``C`` contiguous: each row of ``cols`` copies ``KH`` runs of ``KW*C``
contiguous floats from a channels-last input, and the matching kernel matrix is
``W.transpose(0, 2, 3, 1).reshape(F, KH*KW*C)``.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad.kernels.conv_geometry import ConvGeometry


def pad_channels_last(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``(N, C, H, W)`` -> zero-padded ``(N, H + top + bottom, W + left + right, C)``, channels last."""
    x_nhwc = x.transpose(0, 2, 3, 1)  # (N, H, W, C), a view
    return np.pad(x_nhwc, ((0, 0), (g.top, g.bottom), (g.left, g.right), (0, 0)))


def im2col(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``x`` of shape ``(N, C, H, W)`` -> ``cols`` of shape ``(N*OH*OW, KH*KW*C)``."""
    N, C = x.shape[:2]
    xp = pad_channels_last(x, g)  # (N, Hp, Wp, C)
    windows = sliding_window_view(xp, (g.KH, g.KW), axis=(1, 2))  # (N, Hp-KH+1, Wp-KW+1, C, KH, KW)
    windows = windows[:, : g.SH * (g.OH - 1) + 1 : g.SH, : g.SW * (g.OW - 1) + 1 : g.SW]  # (N, OH, OW, C, KH, KW)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(N * g.OH * g.OW, g.KH * g.KW * C)


def col2im(dcols: np.ndarray, x_shape, g: ConvGeometry) -> np.ndarray:
    """Adjoint of ``im2col``: ``(N*OH*OW, KH*KW*C)`` -> ``dx`` of shape ``x_shape = (N, C, H, W)``.

    Every column entry is added back to the input position it was copied from (one strided add per kernel
    offset). The result is a channels-last array viewed as ``(N, C, H, W)``.
    """
    N, C, H, W = x_shape
    d = dcols.reshape(N, g.OH, g.OW, g.KH, g.KW, C)
    dxp = np.zeros((N, H + g.top + g.bottom, W + g.left + g.right, C), dtype=dcols.dtype)
    for kh in range(g.KH):
        for kw in range(g.KW):
            dxp[:, kh : kh + g.SH * (g.OH - 1) + 1 : g.SH, kw : kw + g.SW * (g.OW - 1) + 1 : g.SW] += d[:, :, :, kh, kw]
    return dxp[:, g.top : g.top + H, g.left : g.left + W].transpose(0, 3, 1, 2)


def kernel_matrix(W: np.ndarray) -> np.ndarray:
    """``(F, C, KH, KW)`` -> ``(F, KH*KW*C)``, matching the column order of ``im2col``."""
    F = W.shape[0]
    return W.transpose(0, 2, 3, 1).reshape(F, -1)


def kernel_from_matrix(Wm: np.ndarray, W_shape) -> np.ndarray:
    """Inverse of ``kernel_matrix``: ``(F, KH*KW*C)`` -> contiguous ``(F, C, KH, KW)``."""
    F, C, KH, KW = W_shape
    return np.ascontiguousarray(Wm.reshape(F, KH, KW, C).transpose(0, 3, 1, 2))
