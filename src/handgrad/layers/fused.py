"""Consecutive layers that ``Sequential`` runs as one step when the fast kernels are active.

``plan(layers)`` groups ``ELU -> MaxPool2D`` pairs into an ``ELUMaxPool`` step and leaves every other layer
alone. A step has the layer interface ``forward(x, training)`` / ``backward(dy, input_grad)``; ``Sequential``
adds activity gradients at the output of the step's last layer and weight penalties of all its layers, as
for single layers. Only pairs whose result cannot differ from the separate layers are fused: the ELU has no
activity regularizer (its full-size output is never formed) and neither layer's methods are redefined
(by a subclass, or a test injecting a bug).
"""
from __future__ import annotations

from handgrad.kernels import backend
from handgrad.layers.activations import ELU
from handgrad.layers.pooling import MaxPool2D

# The methods a fused step replaces, as defined in their classes (before any subclass or patch).
_DEFINITIONS = {ELU: (ELU._forward, ELU._backward, ELU._f, ELU._df_from_y),
                MaxPool2D: (MaxPool2D._forward, MaxPool2D._backward)}


def _as_defined(layer, cls) -> bool:
    return type(layer) is cls and tuple(getattr(cls, m.__name__) for m in _DEFINITIONS[cls]) == _DEFINITIONS[cls]


class ELUMaxPool:
    """``MaxPool2D(ELU(x))`` by ``fast.max_pool_elu_forward``: max pooling first, then ELU on the pooled map.

    Shape: as the pair, ``(N, C, H, W)`` -> ``(N, C, OH, OW)``. Caches the pooled output and the argmax; the
    two layers' own caches are cleared (their ``backward`` cannot run alone after a fused forward).
    """

    def __init__(self, elu: ELU, pool: MaxPool2D, kernels):
        self.elu, self.pool = elu, pool
        self._forward, self._backward = kernels.max_pool_elu_forward, kernels.max_pool_elu_backward

    def forward(self, x, training, check_finite=False):
        # check_finite is part of the layer interface; a step only runs inside a Sequential, which checks its input
        y, argmax = self._forward(x, self.elu.alpha, self.pool.geometry)
        self._cache = (y, argmax, x.shape)
        self.elu._y = self.elu._fast_backward = None
        self.pool._cache = None
        self.elu._batch_size = self.pool._batch_size = x.shape[0]  # they ran: their backward explains what to do
        return y

    def backward(self, dy, input_grad=True, check_finite=False):
        if not input_grad:
            return None
        y, argmax, x_shape = self._cache
        return self._backward(dy, y, argmax, self.elu.alpha, x_shape, self.pool.geometry)


def plan(layers) -> list[tuple[int, int, object]]:
    """``[(lo, hi, step), ...]``: ``layers[lo:hi]`` run as ``step`` (the layer itself when ``hi == lo + 1``)."""
    fast = backend.fast()
    steps, i = [], 0
    while i < len(layers):
        a, b = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if (fast is not None and _as_defined(a, ELU) and a.activity_regularizer is None
                and _as_defined(b, MaxPool2D)):
            steps.append((i, i + 2, ELUMaxPool(a, b, fast)))
            i += 2
        else:
            steps.append((i, i + 1, a))
            i += 1
    return steps
