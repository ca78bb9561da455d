"""Element-wise activation layers. Each caches its output ``y`` (and nothing else) for the backward pass.

==========  ==========================================  ==========================================
layer       y = f(x)                                    dL/dx = dL/dy * f'(x), written with y
==========  ==========================================  ==========================================
ELU         x if x > 0 else alpha * (exp(x) - 1)        1 if y > 0 else y + alpha
ReLU        max(x, 0)                                    1 if y > 0 else 0
LeakyReLU   x if x > 0 else negative_slope * x           1 if y > 0 else negative_slope (slope > 0)
Tanh        tanh(x)                                      1 - y**2
Sigmoid     1 / (1 + exp(-x))                            y * (1 - y)
==========  ==========================================  ==========================================

Outputs keep the memory layout of the input (``order="K"``), so a channels-last array stays channels-last.
"""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_number
from handgrad.errors import ArgumentError, StateError
from handgrad.kernels import backend, reference
from handgrad.layers.base import Layer


class Activation(Layer):
    """An element-wise layer; subclasses write ``_f(x)`` and ``_df_from_y(y)``."""

    def _forward(self, x, training):
        self._y = self._f(x)
        return self._y

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        return dy * self._df_from_y(self._y)


class ELU(Activation):
    """Exponential linear unit. Args: ``alpha=1.0`` (> 0), the negative saturation value.

    Forward and backward are the kernel set's ``elu_forward``/``elu_backward`` (one pass each; see the table
    above for the formulas)."""

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("ELU", "alpha", alpha, minimum=0.0, strict_min=True)
        self._y = None

    def _forward(self, x, training):
        kernels = backend.fast() or reference  # chosen per call; backward uses the same set
        self._y = kernels.elu_forward(x, self.alpha)
        self._elu_backward = kernels.elu_backward
        return self._y

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        if self._y is None:
            raise StateError(f"{self.name}: backward called before forward (no output to differentiate)")
        return self._elu_backward(dy, self._y, self.alpha)


class ReLU(Activation):
    """Rectified linear unit ``max(x, 0)``."""

    def _f(self, x):
        return np.maximum(x, 0, order="K")

    def _df_from_y(self, y):
        return (y > 0).astype(y.dtype)


class LeakyReLU(Activation):
    """``x if x > 0 else negative_slope * x``.

    Args: ``negative_slope=0.3`` (Keras's default; PyTorch uses 0.01), > 0.
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope, minimum=0.0, strict_min=True)

    def _f(self, x):
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def _df_from_y(self, y):
        return np.where(y > 0, y.dtype.type(1), y.dtype.type(self.negative_slope))


class Tanh(Activation):
    """Hyperbolic tangent."""

    def _f(self, x):
        return np.tanh(x)

    def _df_from_y(self, y):
        return 1 - y * y


class Sigmoid(Activation):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow for large ``|x|``."""

    def _f(self, x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def _df_from_y(self, y):
        return y * (1 - y)


_BY_NAME = {"elu": ELU, "relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def get(identifier) -> Activation | None:
    """A new activation layer from a name (``"elu"``, ``"relu"``, ``"leaky_relu"``, ``"tanh"``,
    ``"sigmoid"``; ``None`` or ``"linear"`` for none) or an ``Activation`` instance."""
    if identifier is None or identifier == "linear":
        return None
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ArgumentError(f"unknown activation {identifier!r}; expected None, 'linear' or one of {sorted(_BY_NAME)}")
