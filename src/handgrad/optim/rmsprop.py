"""RMSProp: divide the gradient by a running RMS of its recent magnitudes."""
from __future__ import annotations

from handgrad._validation import check_number
from handgrad.optim.optimizer import Optimizer, check_fraction


class RMSProp(Optimizer):
    """PyTorch's RMSprop (``centered=False``, ``momentum=0``)::

        v = rho * v + (1 - rho) * g**2
        p -= lr * g / (sqrt(v) + eps)

    Defaults are Keras's (``rho=0.9``, ``eps=1e-7``); the formula is PyTorch's: Keras puts ``eps`` inside the
    square root, ``sqrt(v + eps)``. ``RMSProp(rho=0.99, eps=1e-8)`` is ``torch.optim.RMSprop()``'s default
    (torch calls ``rho`` ``alpha``).

    Args:
        lr: learning rate (finite, > 0) or schedule. Default 0.001.
        rho: decay of the mean square, in [0, 1). Default 0.9.
        eps: added to the RMS, > 0. Default 1e-7.
        clipnorm: optional global-norm clipping; see ``Optimizer``.

    State: ``"v"``, the running mean of ``g**2``, shaped like the parameter.
    """

    slots = ("v",)

    def __init__(self, lr=0.001, rho: float = 0.9, eps: float = 1e-7, *, clipnorm: float | None = None):
        super().__init__(lr, clipnorm=clipnorm)
        owner = type(self).__name__
        self.rho = check_fraction(owner, "rho", rho)
        self.eps = check_number(owner, "eps", eps, minimum=0, strict_min=True)

    def update_one(self, name, param, grad, state, lr, kernels):
        kernels.rmsprop_update(param, grad, state["v"], self.rho, self.eps, lr, scratch=self.scratch(param))

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "eps": self.eps}
