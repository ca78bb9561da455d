"""The NumPy kernels of im2col convolution, dense, pooling and ELU: short, vectorized, obviously correct.

The numba set's ``handgrad.kernels.numba.ops`` has a twin of the same name and signature for each (but
average pooling, which the numba set takes from here) and is tested against these. Arrays are logically NCHW;
their memory layout is free (the numba kernels return channels-last arrays viewed as NCHW), so callers never
rely on it.

Notation: ``N`` batch, ``C`` input channels, ``F`` filters, ``H, W`` input size, ``KH, KW`` kernel or pool
window, ``SH, SW`` strides, ``OH, OW`` output size (all in the ``ConvGeometry`` ``g``).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad.kernels import im2col as k
from handgrad.kernels.conv_geometry import ConvGeometry


# ---------------------------------------------------------------------------------------------- convolution
def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None, g: ConvGeometry):
    """``z = conv(x, W) + b`` by im2col and one matrix product; returns ``(z, cache)``.

    Shape: ``x (N, C, H, W)``, ``W (F, C, KH, KW)``, ``b (F,)`` or None -> ``z (N, F, OH, OW)`` (a channels-last
    array viewed as NCHW). ``cache`` is what ``conv2d_backward`` needs: the whole column matrix.
    """
    N = x.shape[0]
    F = W.shape[0]
    cols = k.im2col(x, g)  # (N*OH*OW, KH*KW*C)
    W_mat = k.kernel_matrix(W)  # (F, KH*KW*C)
    z = cols @ W_mat.T  # (N*OH*OW, F)
    if b is not None:
        z += b
    z = z.reshape(N, g.OH, g.OW, F).transpose(0, 3, 1, 2)  # (N, F, OH, OW), channels last
    return z, (x.shape, cols, W_mat)


def conv2d_backward(dz: np.ndarray, cache, g: ConvGeometry, input_grad: bool = True):
    """Gradients ``(dW, db, dx)`` from ``dz = dL/dz`` of shape ``(N, F, OH, OW)`` (any memory layout).

    With ``dZ = dz`` as a ``(N*OH*OW, F)`` matrix: ``dW_mat = dZ.T @ cols``, ``db = sum_rows(dZ)``,
    ``dx = col2im(dZ @ W_mat)``. ``dW (F, C, KH, KW)``, ``db (F,)``, ``dx (N, C, H, W)`` or None when
    ``input_grad`` is False.
    """
    x_shape, cols, W_mat = cache
    F = W_mat.shape[0]
    dz_mat = dz.transpose(0, 2, 3, 1).reshape(-1, F)  # (N*OH*OW, F); free when channels last
    C = x_shape[1]
    dW = k.kernel_from_matrix(dz_mat.T @ cols, (F, C, g.KH, g.KW))
    db = dz_mat.sum(axis=0)
    dx = k.col2im(dz_mat @ W_mat, x_shape, g) if input_grad else None
    return dW, db, dx


# ---------------------------------------------------------------------------------------------- dense
def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``z = x @ W + b``. Shape: ``x (N, in)``, ``W (in, out)``, ``b (out,)`` or None -> ``z (N, out)``."""
    z = x @ W  # (N, out)
    if b is not None:
        z += b
    return z


def dense_backward(dz: np.ndarray, x: np.ndarray, W: np.ndarray, input_grad: bool = True):
    """``(dW, db, dx) = (x.T @ dz, sum_rows(dz), dz @ W.T)``; ``dx`` is None when ``input_grad`` is False."""
    return x.T @ dz, dz.sum(axis=0), (dz @ W.T if input_grad else None)


# ---------------------------------------------------------------------------------------------- pooling
def pool_windows(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``(N, C, H, W)`` -> view ``(N, C, OH, OW, KH, KW)`` of the pooling windows."""
    w = sliding_window_view(x, (g.KH, g.KW), axis=(2, 3))  # (N, C, H-KH+1, W-KW+1, KH, KW)
    return w[:, :, : g.SH * (g.OH - 1) + 1 : g.SH, : g.SW * (g.OW - 1) + 1 : g.SW]


def pool_scatter(dx: np.ndarray, per_offset, g: ConvGeometry) -> np.ndarray:
    """Add ``per_offset(i, j)`` (shape ``(N, C, OH, OW)``) to ``dx`` at the inputs of window offset ``(i, j)``."""
    for i in range(g.KH):
        for j in range(g.KW):
            dx[:, :, i : i + g.SH * (g.OH - 1) + 1 : g.SH, j : j + g.SW * (g.OW - 1) + 1 : g.SW] += per_offset(i, j)
    return dx


def max_pool_forward(x: np.ndarray, g: ConvGeometry):
    """``y[n, c, oh, ow] = max`` over each window; returns ``(y, argmax)``.

    Shape: ``x (N, C, H, W)`` -> ``y (N, C, OH, OW)``; ``argmax`` holds, per output, the offset ``i*KW + j`` of
    the first maximum of its window (row-major order), in whatever layout ``max_pool_backward`` of the same
    kernel set reads.
    """
    N, C = x.shape[:2]
    flat = pool_windows(x, g).reshape(N, C, g.OH, g.OW, g.KH * g.KW)  # (N, C, OH, OW, KH*KW), a copy
    argmax = flat.argmax(axis=-1)  # (N, C, OH, OW)
    return np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0], argmax


def max_pool_backward(dy: np.ndarray, argmax: np.ndarray, x_shape, g: ConvGeometry) -> np.ndarray:
    """``dx`` of shape ``x_shape``: each window's ``dy`` goes to the position of its first maximum."""
    dx = np.zeros(x_shape, dtype=dy.dtype)
    return pool_scatter(dx, lambda i, j: np.where(argmax == i * g.KW + j, dy, 0), g)


def avg_pool_forward(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``y[n, c, oh, ow] = mean`` over each window. Shape: ``x (N, C, H, W)`` -> ``y (N, C, OH, OW)``."""
    return pool_windows(x, g).mean(axis=(-2, -1))


def avg_pool_backward(dy: np.ndarray, x_shape, g: ConvGeometry) -> np.ndarray:
    """``dx`` of shape ``x_shape``: each input gets ``dy / (KH*KW)`` from every window holding it."""
    share = dy / dy.dtype.type(g.KH * g.KW)
    return pool_scatter(np.zeros(x_shape, dtype=dy.dtype), lambda i, j: share, g)


# ---------------------------------------------------------------------------------------------- ELU
def elu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    """``y = x if x > 0 else alpha * (exp(x) - 1)``, same shape and memory layout as ``x``.

    ``x = +-0`` gives ``+-0`` (``alpha * expm1(+-0)``), copied from ``x``: ``np.minimum(-0.0, 0)`` may return
    either zero, depending on the SIMD loop. NaN stays NaN.
    """
    y = np.expm1(np.minimum(x, 0), order="K")
    y *= x.dtype.type(alpha)
    np.copyto(y, x, where=x >= 0)
    return y


def elu_derivative_from_y(y: np.ndarray, alpha: float) -> np.ndarray:
    """``dy/dx = 1 if y > 0 else y + alpha``, written with the output ``y`` (``y + alpha = alpha * exp(x)``)."""
    d = y + y.dtype.type(alpha)
    np.copyto(d, 1, where=y > 0)
    return d


def elu_backward(dy: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """``dx = dy * (1 if y > 0 else y + alpha)``."""
    return dy * elu_derivative_from_y(y, alpha)
