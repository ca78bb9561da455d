"""Ready-made networks."""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_choice, check_number
from handgrad.layers import ELU, BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from handgrad.regularizers import L1, L1L2, L2
from handgrad.sequential import Sequential


def make_regularizer(l1: float = 0.0, l2: float = 0.0):
    """``None`` when both are 0, else the simplest of ``L1``, ``L2``, ``L1L2`` with these coefficients."""
    if l1 and l2:
        return L1L2(l1=l1, l2=l2)
    if l1:
        return L1(l1)
    if l2:
        return L2(l2)
    L1L2(l1=l1, l2=l2)  # validates (negative, NaN) even when unused
    return None


def reference_cnn(input_shape=(1, 28, 28), num_classes: int = 10, weight_l2: float = 0.0,
                  activity_l2: float = 0.0, activity_on: str = "pre", seed: int = 0, *, weight_l1: float = 0.0,
                  activity_l1: float = 0.0, dropout: float = 0.0, batchnorm: bool = False,
                  dtype=np.float32) -> Sequential:
    """The network our users build by hand::

        Conv2D(32, 5, same) - [BatchNorm2D] - ELU - MaxPool2D(2) - Conv2D(64, 5, same) - [BatchNorm2D] - ELU -
        MaxPool2D(2) - Flatten - [Dropout] - Dense(256) - [BatchNorm1D] - ELU - [Dropout] - Dense(num_classes)
        (softmax cross-entropy on the logits)

    Args:
        input_shape: per-sample ``(C, H, W)``; ``(1, 28, 28)`` for (Fashion-)MNIST, ``(3, 32, 32)`` for CIFAR-10.
        num_classes: outputs of the last Dense layer.
        weight_l2, weight_l1: ``L1L2`` kernel regularizer on every Conv2D and Dense kernel (biases are free).
        activity_l2, activity_l1: ``L1L2`` activity regularizer on both conv outputs, ``R(y) / N``.
        activity_on: ``"pre"`` penalizes the conv output before ELU (the regularizer sits on the Conv2D);
            ``"post"`` penalizes it after ELU (the regularizer sits on the ELU layer).
        seed: initialization seed.
        dropout: rate of a Dropout layer before each Dense layer (0 = no Dropout layers).
        batchnorm: BatchNorm2D after each Conv2D and BatchNorm1D after Dense(256), before ELU (Keras's
            defaults); the layers they follow have no bias (BatchNorm's ``beta`` takes its place).
        dtype: float32 (default) or float64.
    """
    check_choice("reference_cnn", "activity_on", activity_on, ("pre", "post"))
    if not isinstance(batchnorm, bool):
        raise TypeError(f"reference_cnn: batchnorm must be True or False, got {batchnorm!r}")
    for name, value in (("weight_l2", weight_l2), ("weight_l1", weight_l1), ("activity_l2", activity_l2),
                        ("activity_l1", activity_l1)):
        check_number("reference_cnn", name, value, minimum=0.0)
    kernel_reg = make_regularizer(weight_l1, weight_l2)
    act_reg = make_regularizer(activity_l1, activity_l2)
    pre, post = (act_reg, None) if activity_on == "pre" else (None, act_reg)

    def conv(filters):
        return [Conv2D(filters, 5, padding="same", kernel_initializer="he_uniform", kernel_regularizer=kernel_reg,
                       activity_regularizer=pre, use_bias=not batchnorm), *([BatchNorm2D()] if batchnorm else []),
                ELU(activity_regularizer=post), MaxPool2D(2)]

    def dropout_layer():  # a new layer each time: every Dropout draws its own masks
        return [Dropout(dropout)] if dropout else []

    head = [Flatten(), *dropout_layer(), Dense(256, kernel_initializer="he_uniform", kernel_regularizer=kernel_reg,
                                               use_bias=not batchnorm), *([BatchNorm1D()] if batchnorm else []),
            ELU(), *dropout_layer(), Dense(num_classes, kernel_regularizer=kernel_reg)]
    return Sequential([*conv(32), *conv(64), *head], input_shape=input_shape, seed=seed, dtype=dtype)
