"""Weight, bias and activity regularizers with Keras's exact formulas.

A regularizer is a small callable: ``penalty(x) -> float`` and ``grad(x) -> array`` (the gradient of the
penalty with respect to ``x``, same shape and dtype), plus ``get_config()``.

Formulas (identical to ``keras.regularizers``)::

    L1(l1):      penalty = l1 * sum(|x|)                    grad = l1 * sign(x)
    L2(l2):      penalty = l2 * sum(x**2)    (no 1/2)        grad = 2 * l2 * x
    L1L2(l1,l2): penalty = l1 * sum(|x|) + l2 * sum(x**2)   grad = l1 * sign(x) + 2 * l2 * x

``sign(0) = 0``: the subgradient TensorFlow and PyTorch use for ``|x|``.

How a layer applies them (see ``handgrad.layers.base.Layer``):

- ``kernel_regularizer`` / ``bias_regularizer``: ``R(W)`` is added to the loss once per step, *not* divided by
  the batch size;
- ``activity_regularizer``: ``R(y) / N`` where ``y`` is the layer's output and ``N`` the batch size.

Other conventions, for translating recipes:

- cs231n's ``0.5 * reg * sum(W**2)`` is ``L2(reg / 2)``;
- PyTorch ``SGD(weight_decay=wd)`` adds ``wd * W`` to the gradient, the gradient of ``L2(wd / 2)``.
"""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_number


class Regularizer:
    """Base class: subclasses implement ``penalty`` and ``grad`` and list their coefficients in ``get_config``."""

    def __call__(self, x: np.ndarray) -> float:
        return self.penalty(x)

    def penalty(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


class L1L2(Regularizer):
    """``penalty = l1 * sum(|x|) + l2 * sum(x**2)``; ``grad = l1 * sign(x) + 2 * l2 * x``.

    Args:
        l1: L1 coefficient, finite and >= 0. Default 0.0 (as Keras).
        l2: L2 coefficient, finite and >= 0. Default 0.0 (as Keras).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = check_number(type(self).__name__, "l1", l1, minimum=0.0)
        self.l2 = check_number(type(self).__name__, "l2", l2, minimum=0.0)

    def penalty(self, x: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.sum(np.abs(x), dtype=np.float64))
        if self.l2:
            total += self.l2 * float(np.sum(np.square(x), dtype=np.float64))
        return total

    def grad(self, x: np.ndarray) -> np.ndarray:
        g = np.zeros_like(x)
        if self.l1:
            g += x.dtype.type(self.l1) * np.sign(x)
        if self.l2:
            g += x.dtype.type(2.0 * self.l2) * x
        return g

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``penalty = l1 * sum(|x|)``; ``grad = l1 * sign(x)``.

    Args:
        l1: coefficient, finite and >= 0. Default 0.01 (as Keras).
    """

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1, l2=0.0)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """``penalty = l2 * sum(x**2)`` (no factor 1/2); ``grad = 2 * l2 * x``.

    Args:
        l2: coefficient, finite and >= 0. Default 0.01 (as Keras).
    """

    def __init__(self, l2: float = 0.01):
        super().__init__(l1=0.0, l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier) -> Regularizer | None:
    """Turn ``None``, a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict or a regularizer into a regularizer.

    Names give Keras's defaults: ``"l1"`` is ``L1(0.01)``, ``"l2"`` is ``L2(0.01)``, ``"l1_l2"`` is
    ``L1L2(0.0, 0.0)``. A dict is ``{"class_name": "L2", "config": {"l2": 1e-4}}`` as written by
    ``serialize``.
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown regularizer {identifier!r}; expected one of {sorted(_BY_NAME)}")
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        classes = {"L1": L1, "L2": L2, "L1L2": L1L2}
        name = identifier.get("class_name")
        if name not in classes:
            raise ValueError(f"unknown regularizer class_name {name!r}; expected one of {sorted(classes)}")
        return classes[name](**identifier.get("config", {}))
    raise TypeError(f"cannot interpret {identifier!r} ({type(identifier).__name__}) as a regularizer")


def serialize(regularizer: Regularizer | None) -> dict | None:
    """Inverse of ``get`` for dicts: ``{"class_name": ..., "config": ...}`` or ``None``."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
