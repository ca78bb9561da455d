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

Export: each is one ONNX node of the same name (``Elu``, ``Relu``, ``LeakyRelu``, ``Tanh``, ``Sigmoid``) and
PyTorch's module of the same name (``nn.ELU``, ``nn.ReLU``, ``nn.LeakyReLU``, ``nn.Tanh``, ``nn.Sigmoid``).
"""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_number
from handgrad.errors import ArgumentError, StateError
from handgrad.kernels import backend
from handgrad.layers.base import Layer


class Activation(Layer):
    """An element-wise layer; subclasses write ``_f(x)`` and ``_df_from_y(y)``.

    Export: ``ONNX_OP`` (the ONNX operator) and ``TORCH_MODULE`` (the ``torch.nn`` class) with the arguments
    ``_export_args()`` (``{}``, or ``alpha`` / ``negative_slope``); ``_from_torch`` reads them back.
    """

    ONNX_OP: str
    TORCH_ARG: str | None = None  # the one argument, named as torch.nn's module names it (and as handgrad does)

    def _export_args(self) -> dict:
        return {} if self.TORCH_ARG is None else {self.TORCH_ARG: float(getattr(self, self.TORCH_ARG))}

    def _onnx(self, graph, x):
        # ONNX names the one argument alpha: Elu's alpha, LeakyRelu's slope
        attributes = {} if self.TORCH_ARG is None else {"alpha": float(getattr(self, self.TORCH_ARG))}
        return graph.node(self.ONNX_OP, [x], self.name, **attributes)

    def _torch(self, torch):
        return [getattr(torch.nn, self.TORCH_MODULE)(**self._export_args())]

    @classmethod
    def _from_torch(cls, module):
        args = {} if cls.TORCH_ARG is None else {cls.TORCH_ARG: float(getattr(module, cls.TORCH_ARG))}
        return cls(**args), {}, {}

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

    ONNX_OP, TORCH_MODULE = "Elu", "ELU"
    TORCH_ARG = "alpha"
    FUSABLE_AS = "elu"  # this exact class, for a kernel set's fusion rules (handgrad.kernels.fusion)

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("ELU", "alpha", alpha, minimum=0.0, strict_min=True)
        self._y = None

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
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

    ONNX_OP, TORCH_MODULE = "Relu", "ReLU"

    def _f(self, x):
        return np.maximum(x, 0, order="K")

    def _df_from_y(self, y):
        return (y > 0).astype(y.dtype)


class LeakyReLU(Activation):
    """``x if x > 0 else negative_slope * x``.

    Args: ``negative_slope=0.3`` (Keras's default; PyTorch uses 0.01), > 0.
    """

    ONNX_OP, TORCH_MODULE = "LeakyRelu", "LeakyReLU"
    TORCH_ARG = "negative_slope"

    def __init__(self, negative_slope: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope, minimum=0.0, strict_min=True)

    def _f(self, x):
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def _df_from_y(self, y):
        return np.where(y > 0, y.dtype.type(1), y.dtype.type(self.negative_slope))


class Tanh(Activation):
    """Hyperbolic tangent."""

    ONNX_OP, TORCH_MODULE = "Tanh", "Tanh"

    def _f(self, x):
        return np.tanh(x)

    def _df_from_y(self, y):
        return 1 - y * y


class Sigmoid(Activation):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow for large ``|x|``."""

    ONNX_OP, TORCH_MODULE = "Sigmoid", "Sigmoid"

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
