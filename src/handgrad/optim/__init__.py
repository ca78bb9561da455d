"""Optimizers, learning-rate schedules and gradient clipping.

Optimizers, simple to complex (each one file, PyTorch's formulas; see ``optimizer`` for the template)::

    SGD(lr=0.01)                                         p -= lr * g
    Momentum(lr=0.01, momentum=0.9, nesterov=False)      v = mu*v + g;  p -= lr*v  (or lr*(g + mu*v))
    RMSProp(lr=0.001, rho=0.9, eps=1e-7)                 v = rho*v + (1-rho)*g**2;  p -= lr*g/(sqrt(v)+eps)
    Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8)     bias-corrected moments
    AdamW(..., weight_decay=0.01, decay=None)            p *= 1 - lr*wd, then Adam

All take ``lr`` as a number or a schedule and a keyword-only ``clipnorm``. Each rule is written once in its
file (its scalars; the element-wise update is the active kernel set's, ``handgrad.kernels.backend``): in-place
NumPy operations (``handgrad.kernels.numpy.optim``) or, with the numba kernels, one fused pass per parameter on
the thread team (``handgrad.kernels.numba.optim``: equal bit for bit; ``python benchmarks/optimizers.py`` times
both against ``torch.optim``).
"""
from handgrad.optim import schedules
from handgrad.optim.adam import Adam
from handgrad.optim.adamw import AdamW
from handgrad.optim.clipping import clip_by_global_norm, global_norm
from handgrad.optim.momentum import Momentum
from handgrad.optim.optimizer import Optimizer
from handgrad.optim.rmsprop import RMSProp
from handgrad.optim.schedules import Constant, Cosine, StepDecay, Warmup, make_schedule
from handgrad.optim.sgd import SGD

NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")  # the CLI's --optimizer choices


def get(name: str, **kwargs) -> Optimizer:
    """Build an optimizer from its CLI name: ``"sgd"``, ``"momentum"``, ``"nesterov"`` (``Momentum`` with
    ``nesterov=True``), ``"rmsprop"``, ``"adam"``, ``"adamw"``; ``kwargs`` go to the constructor."""
    key = name.lower() if isinstance(name, str) else name
    if key not in NAMES:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(map(repr, NAMES))}")
    if key == "nesterov":
        if kwargs.get("nesterov", True) is not True:
            raise ValueError(f"'nesterov' is Momentum(nesterov=True), got nesterov={kwargs['nesterov']!r}")
        return Momentum(**{**kwargs, "nesterov": True})
    return {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW}[key](**kwargs)


__all__ = ["SGD", "Adam", "AdamW", "Constant", "Cosine", "Momentum", "Optimizer", "RMSProp", "StepDecay", "Warmup",
           "NAMES", "clip_by_global_norm", "get", "global_norm", "make_schedule", "schedules"]
