"""Flatten ``(N, C, H, W)`` to ``(N, C*H*W)`` in NCHW order (the order PyTorch's ``nn.Flatten`` uses)."""
from __future__ import annotations

import math

from handgrad.layers.base import Layer


class Flatten(Layer):
    """Shape: ``(N, *dims)`` -> ``(N, prod(dims))``."""

    def _build(self, input_shape, rng):
        return (math.prod(input_shape),)

    def _forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def _backward(self, dy, input_grad):
        return dy.reshape((dy.shape[0], *self.input_shape)) if input_grad else None
