"""Adam: bias-corrected first and second moment estimates."""
from __future__ import annotations

import math

import numpy as np

from handgrad._validation import check_number
from handgrad.optim.optimizer import Optimizer, check_fraction


class Adam(Optimizer):
    """``torch.optim.Adam``'s formulas (Kingma & Ba, Algorithm 1 with torch's placement of ``eps``)::

        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        lr: learning rate (finite, > 0) or schedule. Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        eps: added to the bias-corrected RMS, > 0. Default 1e-8.
        clipnorm: optional global-norm clipping; see ``Optimizer``.

    State: ``"m"`` and ``"v"`` shaped like the parameter, and ``"step"``, the parameter's own ``t`` (0-d
    int64; as in torch, a parameter first seen late gets its bias correction from 1).
    """

    slots = ("m", "v", "step")

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, *,
                 clipnorm: float | None = None):
        super().__init__(lr, clipnorm=clipnorm)
        owner = type(self).__name__
        self.beta1 = check_fraction(owner, "beta1", beta1)
        self.beta2 = check_fraction(owner, "beta2", beta2)
        self.eps = check_number(owner, "eps", eps, minimum=0, strict_min=True)

    def init_state(self, param):
        return {"m": np.zeros_like(param), "v": np.zeros_like(param), "step": np.zeros((), dtype=np.int64)}

    def update_one(self, name, param, grad, state, lr, kernels):
        self._adam_step(param, grad, state, lr, kernels, decay=1.0)

    def _adam_step(self, param, grad, state, lr, kernels, decay: float) -> None:
        """``p *= decay`` (AdamW's; 1 for Adam), then the Adam step with ``t`` advanced, by ``kernels``."""
        t = state["step"]
        t += 1
        b1, b2, step = self.beta1, self.beta2, int(t)
        kernels.adam_update(param, grad, state["m"], state["v"], decay=decay, beta1=b1, beta2=b2,
                            rms_scale=math.sqrt(1 - b2 ** step), eps=self.eps, step_size=lr / (1 - b1 ** step),
                            scratch=self.scratch(param))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}
