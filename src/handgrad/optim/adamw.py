"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from handgrad._validation import check_number
from handgrad.optim.adam import Adam


class AdamW(Adam):
    """``torch.optim.AdamW``: shrink the parameter, then take the Adam step (Loshchilov & Hutter)::

        p *= 1 - lr * weight_decay          only for parameters with decay(name) true
        (then Adam's update, see ``Adam``)

    The decay is applied to the parameter directly, not added to the gradient, so it is not rescaled by
    Adam's ``1 / sqrt(v)`` (unlike an ``L2`` regularizer under ``Adam``). It is scaled by the *scheduled* lr.

    Args:
        lr, beta1, beta2, eps: as ``Adam`` (same defaults).
        weight_decay: decay coefficient, finite and >= 0. Default 0.01 (as torch).
        decay: callable ``name -> bool`` choosing the parameters that decay; None (default) decays all.
            ``decay=lambda n: n.endswith(".W")`` leaves biases (``"dense.b"``) undecayed.
        clipnorm: optional global-norm clipping; see ``Optimizer``.

    ``get_config()["decay"]`` is the callable's qualified name (e.g. ``"<lambda>"``), for the record only.
    """

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01, decay=None, *, clipnorm: float | None = None):
        super().__init__(lr, beta1, beta2, eps, clipnorm=clipnorm)
        owner = type(self).__name__
        self.weight_decay = check_number(owner, "weight_decay", weight_decay, minimum=0)
        if decay is not None and not callable(decay):
            raise TypeError(f"{owner}: decay must be None or a callable name -> bool, got {decay!r} "
                            f"({type(decay).__name__})")
        self.decay = decay

    def update_one(self, name, param, grad, state, lr, kernels):
        decays = self.weight_decay and (self.decay is None or self.decay(name))
        self._adam_step(param, grad, state, lr, kernels, decay=1 - lr * self.weight_decay if decays else 1.0)

    def get_config(self) -> dict:
        decay = None if self.decay is None else getattr(self.decay, "__qualname__", repr(self.decay))
        return {**super().get_config(), "weight_decay": self.weight_decay, "decay": decay}
