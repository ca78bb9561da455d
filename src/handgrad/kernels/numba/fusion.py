"""The numba set's fusion rules (planned by ``handgrad.kernels.fusion.plan``; see there for what a rule is)."""
from __future__ import annotations

from handgrad.kernels.fusion import fusable_as
from handgrad.kernels.numba.ops import max_pool_elu_backward, max_pool_elu_forward


class ELUMaxPool:
    """``MaxPool2D(ELU(x))`` by ``ops.max_pool_elu_forward``: max pooling first, then ELU on the pooled map.

    Matches an ``ELU`` without activity regularizer (its full-size output is never formed) followed by a
    ``MaxPool2D``. Shape: as the pair, ``(N, C, H, W)`` -> ``(N, C, OH, OW)``. Caches the pooled output and the
    argmax. Reads the layers' configuration (``alpha``, the pooling geometry), never their private fields.
    """

    def __init__(self, elu, pool):
        self.elu, self.pool = elu, pool

    @staticmethod
    def matches(a, b) -> bool:
        return fusable_as(a) == "elu" and a.activity_regularizer is None and fusable_as(b) == "max_pool"

    def forward(self, x, training, check_finite=False):
        # check_finite: the layer interface's; a step runs only inside a Sequential, which checks its input
        y, argmax = max_pool_elu_forward(x, self.elu.alpha, self.pool.geometry)
        self._cache = (y, argmax, x.shape)
        return y

    def backward(self, dy, input_grad=True, check_finite=False):
        if not input_grad:
            return None
        y, argmax, x_shape = self._cache
        return max_pool_elu_backward(dy, y, argmax, self.elu.alpha, x_shape, self.pool.geometry)


RULES = (ELUMaxPool,)  # pairs of layers
