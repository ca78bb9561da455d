"""Flatten ``(N, C, H, W)`` to ``(N, C*H*W)`` in NCHW order (the order PyTorch's ``nn.Flatten`` uses)."""
from __future__ import annotations

import math

from handgrad.errors import ArgumentError
from handgrad.layers.base import Layer


class Flatten(Layer):
    """Shape: ``(N, *dims)`` -> ``(N, prod(dims))``."""

    def _build(self, input_shape, rng):
        return (math.prod(input_shape),)

    def _forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def _backward(self, dy, input_grad):
        return dy.reshape((dy.shape[0], *self.input_shape)) if input_grad else None

    # Export: ONNX's ``Flatten(axis=1)`` and ``nn.Flatten()`` flatten in the same (C-contiguous NCHW) order.
    TORCH_MODULE = "Flatten"

    def _onnx(self, graph, x):
        return graph.node("Flatten", [x], self.name, axis=1)

    def _torch(self, torch):
        return [torch.nn.Flatten()]

    @classmethod
    def _from_torch(cls, module):
        if (module.start_dim, module.end_dim) != (1, -1):
            raise ArgumentError(f"Flatten: only nn.Flatten(start_dim=1, end_dim=-1) has an equivalent, got start_dim="
                                f"{module.start_dim}, end_dim={module.end_dim}")
        return cls(), {}, {}
