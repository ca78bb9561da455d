"""Identity layer whose output carries an activity penalty (Keras's ``ActivityRegularization``)."""
from __future__ import annotations

from handgrad.layers.base import Layer
from handgrad.regularizers import L1L2


class ActivityRegularization(Layer):
    """``y = x``, adding ``L1L2(l1, l2)(y) / N`` to the loss.

    Args:
        l1: L1 coefficient, default 0.0.
        l2: L2 coefficient, default 0.0.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(activity_regularizer=L1L2(l1=l1, l2=l2), **kwargs)

    def _forward(self, x, training):
        return x

    def _backward(self, dy, input_grad):
        return dy if input_grad else None

    # Export: the identity. The penalty is a training term; inference graphs carry none.
    def _onnx(self, graph, x):
        return graph.node("Identity", [x], self.name)

    def _torch(self, torch):
        return [torch.nn.Identity()]
