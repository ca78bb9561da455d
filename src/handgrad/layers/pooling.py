"""Max and average pooling over 2-D windows (no padding, as Keras's default ``padding="valid"``)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad._validation import ShapeError, check_pair
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.layers.base import Layer


class _Pool2D(Layer):
    """Shared geometry. ``OH = (H - PH) // SH + 1``; rows and columns that do not fill a window are dropped."""

    def __init__(self, pool_size=2, stride=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = check_pair(owner, "pool_size", pool_size)
        self.stride = self.pool_size if stride is None else check_pair(owner, "stride", stride)

    def _build(self, input_shape, rng):
        if len(input_shape) != 3:
            raise ShapeError(f"{self.name}: {type(self).__name__} expects per-sample input (C, H, W), got {input_shape}")
        C, H, W = input_shape
        g = conv_geometry(H, W, self.pool_size, self.stride, "valid")
        if g.OH < 1 or g.OW < 1:
            raise ShapeError(f"{self.name}: pool_size {self.pool_size} is larger than the input (C, H, W) = {input_shape}")
        self.geometry = g
        return (C, g.OH, g.OW)

    def _windows(self, x):
        """``(N, C, H, W)`` -> view ``(N, C, OH, OW, PH, PW)`` of the pooling windows."""
        g = self.geometry
        w = sliding_window_view(x, self.pool_size, axis=(2, 3))
        return w[:, :, : g.SH * (g.OH - 1) + 1 : g.SH, : g.SW * (g.OW - 1) + 1 : g.SW]

    def _scatter(self, dx, per_offset):
        """Add ``per_offset(i, j)`` (shape ``(N, C, OH, OW)``) to the input positions at window offset ``(i, j)``."""
        g = self.geometry
        for i in range(g.KH):
            for j in range(g.KW):
                dx[:, :, i : i + g.SH * (g.OH - 1) + 1 : g.SH, j : j + g.SW * (g.OW - 1) + 1 : g.SW] += per_offset(i, j)
        return dx

    def get_config(self) -> dict:
        return {"pool_size": self.pool_size, "stride": self.stride}


class MaxPool2D(_Pool2D):
    """``y[n, c, oh, ow] = max over the window``; the gradient goes to the first maximum of each window.

    Args:
        pool_size: int or ``(PH, PW)``, default 2.
        stride: int or pair, default ``pool_size``.

    Shape: ``(N, C, H, W)`` -> ``(N, C, OH, OW)``, ``OH = (H - PH) // SH + 1``.
    """

    def _forward(self, x, training):
        N, C = x.shape[:2]
        g = self.geometry
        flat = self._windows(x).reshape(N, C, g.OH, g.OW, g.KH * g.KW)
        self._argmax = flat.argmax(axis=-1)  # (N, C, OH, OW): offset i*PW + j of the first maximum
        self._x_like = x
        return np.take_along_axis(flat, self._argmax[..., None], axis=-1)[..., 0]

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        KW = self.geometry.KW
        dx = np.zeros_like(self._x_like)
        return self._scatter(dx, lambda i, j: np.where(self._argmax == i * KW + j, dy, 0))


class AvgPool2D(_Pool2D):
    """``y[n, c, oh, ow] = mean over the window``; each input gets ``dy / (PH*PW)`` from every window holding it.

    Args and shape as ``MaxPool2D``.
    """

    def _forward(self, x, training):
        self._x_like = x
        return self._windows(x).mean(axis=(-2, -1))

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        g = self.geometry
        share = dy / dy.dtype.type(g.KH * g.KW)
        return self._scatter(np.zeros_like(self._x_like), lambda i, j: share)
