"""Plain stochastic gradient descent."""
from __future__ import annotations

from handgrad.optim.optimizer import Optimizer


class SGD(Optimizer):
    """``p -= lr * g`` (``torch.optim.SGD`` without momentum or weight decay). No state.

    Args:
        lr: learning rate (finite, > 0) or schedule. Default 0.01 (as Keras and DeZero).
        clipnorm: optional global-norm clipping; see ``Optimizer``.
    """

    def __init__(self, lr=0.01, *, clipnorm: float | None = None):
        super().__init__(lr, clipnorm=clipnorm)

    def update_one(self, name, param, grad, state, lr, kernels):
        kernels.sgd_update(param, grad, lr, scratch=self.scratch(param))
