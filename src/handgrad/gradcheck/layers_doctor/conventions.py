"""The calling conventions of CS231n's layers: what each function takes and returns, per kind of layer.

``X_forward(*arrays, *extra) -> (out, cache)`` and ``X_backward(dout, cache) -> grads`` (a tuple in the
order of ``grads``, or one array when the layer has one input); the losses ``f(x, y) -> (loss, dx)``.

=================== ======================================== ============================ ========================
kind                forward arguments                        backward returns             extra (not differentiated)
=================== ======================================== ============================ ========================
affine              x (N, d1, ..., dk), w (D, M), b (M,)     dx, dw, db
relu                x                                        dx
conv                x (N, C, H, W), w (F, C, HH, WW), b (F,) dx, dw, db                   conv_param {stride, pad}
max_pool            x (N, C, H, W)                           dx                           pool_param {pool_height,
                                                                                          pool_width, stride}
batchnorm           x (N, D), gamma (D,), beta (D,)          dx, dgamma, dbeta            bn_param {mode, eps,
                                                                                          momentum, running_mean,
                                                                                          running_var}
spatial_batchnorm   x (N, C, H, W), gamma (C,), beta (C,)    dx, dgamma, dbeta            bn_param
layernorm           x (N, D), gamma (D,), beta (D,)          dx, dgamma, dbeta            ln_param {eps}
spatial_groupnorm   x (N, C, H, W), gamma, beta (1, C, 1, 1) dx, dgamma, dbeta            G, gn_param {eps}
dropout             x                                        dx                           dropout_param {p, mode,
                                                                                          seed}
softmax_loss        x (N, K)                                 (loss, dx) from the call     y (N,)
svm_loss            x (N, K)                                 (loss, dx) from the call     y (N,)
=================== ======================================== ============================ ========================

A function with another name or convention is checked through an adapter: ``check_layers(...,
layers={"my_conv": (forward, backward, "cs231n_conv")})``, the convention being ``"cs231n_" + kind``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Convention:
    kind: str
    inputs: tuple[str, ...]  # the differentiated arguments, in call order
    loss: bool = False  # f(x, y) -> (loss, dx): no separate backward

    @property
    def grads(self) -> tuple[str, ...]:
        return tuple("d" + name for name in self.inputs)

    @property
    def primary(self) -> str:
        """The name of the forward's first result: ``out``, or ``loss``."""
        return "loss" if self.loss else "out"


KINDS: dict[str, Convention] = {c.kind: c for c in (
    Convention("affine", ("x", "w", "b")),
    Convention("relu", ("x",)),
    Convention("conv", ("x", "w", "b")),
    Convention("max_pool", ("x",)),
    Convention("batchnorm", ("x", "gamma", "beta")),
    Convention("spatial_batchnorm", ("x", "gamma", "beta")),
    Convention("layernorm", ("x", "gamma", "beta")),
    Convention("spatial_groupnorm", ("x", "gamma", "beta")),
    Convention("dropout", ("x",)),
    Convention("softmax_loss", ("x",), loss=True),
    Convention("svm_loss", ("x",), loss=True),
)}

PREFIX = "cs231n_"


def convention(name: str) -> Convention:
    """``"cs231n_conv"`` -> the conv convention; an unknown name is a ``ValueError`` listing the known ones."""
    kind = name.removeprefix(PREFIX) if isinstance(name, str) else None
    if kind not in KINDS:
        known = ", ".join(PREFIX + k for k in KINDS)
        raise ValueError(f"check_layers: unknown calling convention {name!r}; known: {known}")
    return KINDS[kind]
