"""The optimizer updates of the numba kernel set: each rule as one fused numba pass over the parameter, on the team.

The NumPy set's updates (``handgrad.kernels.numpy.optim``) make 4 (momentum) to 13 (AdamW) passes over a
parameter and its state;
here one loop reads the parameter, its gradient and its state once and writes them once, split over the
team's threads. The arithmetic is the NumPy rules' step for step, in the parameter's dtype (every scalar is
rounded to it first, as NumPy 2 does with a Python float against an array), without fused multiply-adds, so
the results are equal bit for bit (``tests/optim/test_fused_updates.py``). The loops run only for
C-contiguous parameters, gradients and state of one dtype (``fusable``); for any other arrays each update is
the NumPy set's (``_fused_or_numpy``). The functions have the NumPy set's names and arguments.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

from handgrad.kernels import threads
from handgrad.kernels.numpy import optim as numpy_optim

# Elements per task: below twice this, the update runs on the calling thread (a hand-off costs more).
MIN_TASK_ELEMENTS = 1 << 16


def fusable(param: np.ndarray, grad: np.ndarray, *state: np.ndarray) -> bool:
    """Whether the fused loops apply: all arrays C-contiguous, of the parameter's floating dtype, writable state."""
    arrays = (param, grad, *state)
    return all(isinstance(a, np.ndarray) and a.dtype == param.dtype and a.flags.c_contiguous for a in arrays) \
        and param.dtype in (np.float32, np.float64) and all(a.flags.writeable for a in (param, *state))


def _fused_or_numpy(arrays: int):
    """The update of the same name in ``numpy_optim`` when the first ``arrays`` arguments are not ``fusable``."""
    def wrap(fused):
        numpy_update = getattr(numpy_optim, fused.__name__)

        @functools.wraps(fused)
        def update(*args, **kwargs):
            if fusable(*args[:arrays]):
                fused(*args, **kwargs)
            else:
                numpy_update(*args, **kwargs)
        return update
    return wrap


def _run(loop, arrays, scalars) -> None:
    """``loop(*flat slices, *scalars)`` over the arrays' elements, split over the team when large."""
    flat = [a.reshape(-1) for a in arrays]
    n = flat[0].size
    if n < 2 * MIN_TASK_ELEMENTS:
        loop(*flat, *scalars)
        return

    def task(lo, hi):
        loop(*(a[lo:hi] for a in flat), *scalars)

    threads.parallel_for(task, n, threads.grain_for(n, MIN_TASK_ELEMENTS, tasks_per_thread=1))


# ---------------------------------------------------------------------------------------------- SGD
@njit(nogil=True, cache=True)
def _sgd(p, g, lr):
    for i in range(p.size):
        p[i] -= g[i] * lr


@_fused_or_numpy(arrays=2)
def sgd_update(param, grad, lr: float, scratch=None) -> None:
    """``p -= lr*g`` in place (``scratch``: the NumPy update's, unused here)."""
    _run(_sgd, (param, grad), (param.dtype.type(lr),))


# ---------------------------------------------------------------------------------------------- momentum
@njit(nogil=True, cache=True)
def _momentum(p, g, v, mu, lr, nesterov):
    for i in range(p.size):
        vi = v[i] * mu + g[i]
        v[i] = vi
        if nesterov:
            p[i] -= (vi * mu + g[i]) * lr
        else:
            p[i] -= vi * lr


@_fused_or_numpy(arrays=3)
def momentum_update(param, grad, v, momentum: float, lr: float, nesterov: bool, scratch=None) -> None:
    """``v = mu*v + g``; ``p -= lr*v`` (heavy ball) or ``p -= lr*(mu*v + g)`` (Nesterov), in place."""
    t = param.dtype.type
    _run(_momentum, (param, grad, v), (t(momentum), t(lr), bool(nesterov)))


# ---------------------------------------------------------------------------------------------- RMSProp
@njit(nogil=True, cache=True, error_model="numpy")  # IEEE division (no zero check): the loop vectorizes
def _rmsprop(p, g, v, rho, one_minus_rho, eps, lr):
    for i in range(p.size):
        gi = g[i]
        vi = v[i] * rho + (gi * gi) * one_minus_rho
        v[i] = vi
        p[i] -= gi / (np.sqrt(vi) + eps) * lr


@_fused_or_numpy(arrays=3)
def rmsprop_update(param, grad, v, rho: float, eps: float, lr: float, scratch=None) -> None:
    """``v = rho*v + (1-rho)*g*g``; ``p -= g / (sqrt(v) + eps) * lr``, in place."""
    t = param.dtype.type
    _run(_rmsprop, (param, grad, v), (t(rho), t(1 - rho), t(eps), t(lr)))


# ---------------------------------------------------------------------------------------------- Adam(W)
@njit(nogil=True, cache=True, error_model="numpy")  # IEEE division (no zero check): the loop vectorizes
def _adam(p, g, m, v, decay, b1, one_minus_b1, b2, one_minus_b2, rms_scale, eps, step_size):
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_minus_b1
        vi = v[i] * b2 + (gi * gi) * one_minus_b2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - mi / (np.sqrt(vi) / rms_scale + eps) * step_size


@_fused_or_numpy(arrays=4)
def adam_update(param, grad, m, v, *, decay: float, beta1: float, beta2: float, rms_scale: float, eps: float,
                step_size: float, scratch=None) -> None:
    """One Adam(W) step in place: ``p *= decay``; ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``;
    ``p -= m / (sqrt(v) / rms_scale + eps) * step_size`` with ``rms_scale = sqrt(1 - b2**t)``,
    ``step_size = lr / (1 - b1**t)`` and ``decay = 1 - lr*wd`` (AdamW) or 1 (a multiplication by 1 is exact)."""
    t = param.dtype.type
    _run(_adam, (param, grad, m, v), (t(decay), t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(rms_scale), t(eps),
                                      t(step_size)))
