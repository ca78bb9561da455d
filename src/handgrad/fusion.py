"""Fusion plans: which consecutive layers a kernel set runs as one step.

A kernel set may provide fused kernels (``handgrad.kernels.fast`` has ``max_pool_elu_forward``/``_backward``);
the NumPy references provide none, so with them every layer runs alone. ``plan(layers, kernels)`` applies the
rules below whose fused kernels the kernel set has; ``Sequential`` builds the plan once per list of layers
and kernel set (and again when either changes), and the layers never know about it.

A step has the layer interface ``forward(x, training)`` / ``backward(dy, input_grad)``; ``Sequential`` adds
activity gradients at the output of a step's last layer and the weight penalties of all its layers, as for
single layers. A rule matches layers of exactly its classes (a subclass, e.g. one a test writes to inject a
fault, runs alone with its own methods) and only where the fused result cannot differ from the separate
layers: the ELU has no activity regularizer (its full-size output is never formed). During a fused step the
layers' own ``forward`` does not run: their ``backward`` alone has nothing (or an older pass) to differentiate.
"""
from __future__ import annotations

from handgrad.layers.activations import ELU
from handgrad.layers.pooling import MaxPool2D


class ELUMaxPool:
    """``MaxPool2D(ELU(x))`` by ``kernels.max_pool_elu_forward``: max pooling first, then ELU on the pooled map.

    Shape: as the pair, ``(N, C, H, W)`` -> ``(N, C, OH, OW)``. Caches the pooled output and the argmax. Reads
    the layers' configuration (``alpha``, the pooling geometry), never their private fields.
    """

    KERNELS = ("max_pool_elu_forward", "max_pool_elu_backward")

    def __init__(self, elu: ELU, pool: MaxPool2D, kernels):
        self.elu, self.pool = elu, pool
        self._forward, self._backward = kernels.max_pool_elu_forward, kernels.max_pool_elu_backward

    @staticmethod
    def matches(a, b) -> bool:
        return type(a) is ELU and a.activity_regularizer is None and type(b) is MaxPool2D

    def forward(self, x, training, check_finite=False):
        # check_finite: the layer interface's; a step runs only inside a Sequential, which checks its input
        y, argmax = self._forward(x, self.elu.alpha, self.pool.geometry)
        self._cache = (y, argmax, x.shape)
        return y

    def backward(self, dy, input_grad=True, check_finite=False):
        if not input_grad:
            return None
        y, argmax, x_shape = self._cache
        return self._backward(dy, y, argmax, self.elu.alpha, x_shape, self.pool.geometry)


RULES = (ELUMaxPool,)  # pairs of layers, each with the fused kernels it needs


def plan(layers, kernels) -> tuple[tuple[int, int, object], ...]:
    """``((lo, hi, step), ...)``: ``layers[lo:hi]`` run as ``step`` (the layer itself when ``hi == lo + 1``).

    ``kernels``: the kernel set (module) the steps run with; a rule applies only if it has the rule's kernels.
    """
    rules = [r for r in RULES if all(hasattr(kernels, name) for name in r.KERNELS)]
    steps, i = [], 0
    while i < len(layers):
        a, b = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        rule = next((r for r in rules if b is not None and r.matches(a, b)), None)
        if rule is not None:
            steps.append((i, i + 2, rule(a, b, kernels)))
            i += 2
        else:
            steps.append((i, i + 1, a))
            i += 1
    return tuple(steps)
