"""The optimizer updates of the NumPy kernel set: each rule of ``handgrad.optim`` as in-place NumPy operations.

``handgrad.optim`` computes a rule's scalars once per step (the learning rate, Adam's bias corrections) and
asks the active kernel set for the element-wise update; the numba set's fused loops
(``handgrad.kernels.numba.optim``) do the same arithmetic in the same order, so the two agree bit for bit
(``tests/optim/test_fused_updates.py``). ``scratch`` is a work array shaped like the parameter (the
optimizer's ``scratch(p)``), so no update allocates; every update writes ``param`` and its state in place.
Each scalar meets an array as a Python float, which NumPy 2 rounds to the array's dtype.
"""
from __future__ import annotations

import numpy as np


def sgd_update(param, grad, lr: float, scratch) -> None:
    """``p -= lr*g``."""
    step = np.multiply(grad, lr, out=scratch)
    param -= step


def momentum_update(param, grad, v, momentum: float, lr: float, nesterov: bool, scratch) -> None:
    """``v = mu*v + g``; ``p -= lr*v`` (heavy ball) or ``p -= lr*(mu*v + g)`` (Nesterov)."""
    v *= momentum
    v += grad
    step = scratch
    if nesterov:
        np.multiply(v, momentum, out=step)
        step += grad
        step *= lr
    else:
        np.multiply(v, lr, out=step)
    param -= step


def rmsprop_update(param, grad, v, rho: float, eps: float, lr: float, scratch) -> None:
    """``v = rho*v + (1-rho)*g*g``; ``p -= g / (sqrt(v) + eps) * lr``."""
    tmp = scratch
    v *= rho
    np.square(grad, out=tmp)
    tmp *= 1 - rho
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps
    np.divide(grad, tmp, out=tmp)
    tmp *= lr
    param -= tmp


def adam_update(param, grad, m, v, *, decay: float, beta1: float, beta2: float, rms_scale: float, eps: float,
                step_size: float, scratch) -> None:
    """One Adam(W) step: ``p *= decay``; ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``;
    ``p -= m / (sqrt(v) / rms_scale + eps) * step_size`` with ``rms_scale = sqrt(1 - b2**t)``,
    ``step_size = lr / (1 - b1**t)`` and ``decay = 1 - lr*wd`` (AdamW) or 1 (skipped)."""
    if decay != 1.0:
        param *= decay
    tmp = scratch
    m *= beta1
    np.multiply(grad, 1 - beta1, out=tmp)
    m += tmp
    v *= beta2
    np.square(grad, out=tmp)
    tmp *= 1 - beta2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp /= rms_scale
    tmp += eps                      # sqrt(v_hat) + eps
    np.divide(m, tmp, out=tmp)
    tmp *= step_size                # the first moment's bias correction folded into the step size
    param -= tmp
