"""Inverted dropout."""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_int, check_number
from handgrad.layers.base import Layer


class Dropout(Layer):
    """Training: ``y = x * mask / (1 - rate)`` with ``mask ~ Bernoulli(1 - rate)``; inference: ``y = x``.

    Scaling at training time (inverted dropout) keeps the expected activation unchanged, so inference needs
    no rescaling. ``dL/dx = dL/dy * mask / (1 - rate)``.

    Args:
        rate: fraction of units dropped, ``0 <= rate < 1``.
        seed: seed of the mask generator; default: drawn from the model's seed when built by ``Sequential``
            (0 for a standalone layer), so a model built with ``seed=`` draws the same masks bit for bit.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number("Dropout", "rate", rate, minimum=0.0, maximum=1.0, strict_max=True)
        self.seed = None if seed is None else check_int("Dropout", "seed", seed, minimum=0)
        self.rng = np.random.default_rng(self.seed or 0)

    def _build(self, input_shape, rng):
        if self.seed is None:
            self.rng = np.random.default_rng(int(rng.integers(2**63)))
        return input_shape

    def _forward(self, x, training):
        if not training or self.rate == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        self._scale = keep * x.dtype.type(1.0 / (1.0 - self.rate))  # (N, ...) mask / (1 - rate)
        return x * self._scale

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        return dy if self._scale is None else dy * self._scale

    def get_config(self) -> dict:
        return {"rate": self.rate}
