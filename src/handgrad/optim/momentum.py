"""SGD with heavy-ball or Nesterov momentum."""
from __future__ import annotations

from handgrad.optim.optimizer import Optimizer, check_fraction


class Momentum(Optimizer):
    """SGD with momentum, ``torch.optim.SGD(momentum=mu, dampening=0)``'s formulas::

        v = mu * v + g                  (v starts at 0, so the first v is g, as torch's buffer)
        p -= lr * v                     heavy ball
        p -= lr * (g + mu * v)          nesterov=True

    Args:
        lr: learning rate (finite, > 0) or schedule. Default 0.01.
        momentum: ``mu``, in [0, 1); > 0 when ``nesterov``. Default 0.9.
        nesterov: use Nesterov's look-ahead form. Default False.
        clipnorm: optional global-norm clipping; see ``Optimizer``.

    State: ``"v"``, the velocity, shaped like the parameter.
    """

    slots = ("v",)

    def __init__(self, lr=0.01, momentum: float = 0.9, nesterov: bool = False, *, clipnorm: float | None = None):
        super().__init__(lr, clipnorm=clipnorm)
        owner = type(self).__name__
        self.momentum = check_fraction(owner, "momentum", momentum)
        if not isinstance(nesterov, bool):
            raise TypeError(f"{owner}: nesterov must be a bool, got {nesterov!r} ({type(nesterov).__name__})")
        if nesterov and self.momentum == 0:  # the look-ahead needs a velocity; torch rejects this too
            raise ValueError(f"{owner}: momentum must be > 0 when nesterov=True, got {self.momentum!r}")
        self.nesterov = nesterov

    def update_one(self, name, param, grad, state, lr, kernels):
        kernels.momentum_update(param, grad, state["v"], self.momentum, lr, self.nesterov, scratch=self.scratch(param))

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
