"""The optimizer template: every optimizer is this loop plus an ``update_one`` rule.

Parameters and gradients are dicts ``name -> np.ndarray`` (float32 or float64, same keys and shapes). The
model owns the parameter arrays, so they are updated **in place** and never rebound::

    step(params, grads):
        check names and shapes (before anything is modified)
        lr = current_lr()                        # the float lr, or schedule(iterations)
        if clipnorm: clip_by_global_norm(grads, clipnorm)      # scales grads in place, as torch does
        kernels = backend.active()               # the kernel set that runs the element-wise updates
        for name, p in params.items():
            state = self.state[name]             # created by init_state(p) the first time name is seen
            update_one(name, p, grads[name], state, lr, kernels)
        iterations += 1

A subclass declares ``slots`` (the names of its per-parameter state arrays), writes ``update_one`` (and
``init_state`` when a slot is not a zero array shaped like the parameter) and extends ``get_config``.
``update_one`` gets the parameter's name so a rule may depend on it (``AdamW``'s ``decay``). A rule computes
its scalars (learning rate, bias corrections) and hands the element-wise update to the kernel set it is given
(``kernels.adam_update(...)``): the NumPy set's in-place operations, or the numba set's fused loop, which does
the same arithmetic in the same order (bit for bit; for arrays the loop does not suit, the NumPy update).
``scratch(p)`` lends a reusable work array shaped like ``p``, passed to the update as ``scratch=``, so the
NumPy updates allocate nothing per step.

Checkpoint layout (``state_dict``): a flat ``dict[str, np.ndarray]`` that ``np.savez`` stores without
pickling::

    "iterations"      0-d int64, optimizer steps taken (drives the schedule)
    "<param>/<slot>"  one array per parameter and slot, e.g. "conv2d.W/m"; the parameter's dtype and shape
                      (Adam's per-parameter "step" counter is a 0-d int64)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from handgrad._validation import check_number
from handgrad.kernels import backend
from handgrad.optim import schedules
from handgrad.optim.clipping import clip_by_global_norm


class Optimizer:
    """Base class; see the module docstring for the loop.

    Args:
        lr: learning rate, finite and > 0, or a schedule: a callable ``step -> lr`` (see
            ``handgrad.optim.schedules``) evaluated at ``iterations`` before each step.
        clipnorm: if given (finite, > 0), gradients are first clipped to this global norm over all
            parameters, with ``torch.nn.utils.clip_grad_norm_``'s rule. The ``grads`` arrays are scaled in
            place. Default None (no clipping).
    """

    slots: tuple[str, ...] = ()

    def __init__(self, lr, *, clipnorm: float | None = None):
        owner = type(self).__name__
        if callable(lr):
            self.lr = lr
        else:
            self.lr = check_number(owner, "lr", lr, minimum=0, strict_min=True)
        self.clipnorm = None if clipnorm is None else check_number(owner, "clipnorm", clipnorm, minimum=0,
                                                                   strict_min=True)
        self.iterations = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self._scratch: dict[np.dtype, np.ndarray] = {}
        self._state_unchecked = False  # set by load_state_dict until the next step sees the parameters

    # ---------------------------------------------------------------- the rule (subclasses)
    def init_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        """Fresh state for one parameter: a zero array like ``param`` for every slot."""
        return {slot: np.zeros_like(param) for slot in self.slots}

    def update_one(self, name: str, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                   lr: float, kernels) -> None:
        """Update ``param`` (and ``state``) in place from ``grad`` with learning rate ``lr``, by the element-wise
        update of the kernel set ``kernels`` (``handgrad.kernels.backend.active()``)."""
        raise NotImplementedError

    def scratch(self, param: np.ndarray) -> np.ndarray:
        """A work array shaped like ``param`` with undefined contents, reused across parameters and steps.

        One flat buffer per dtype, as large as the largest parameter; valid until the next ``scratch`` call.
        """
        buf = self._scratch.get(param.dtype)
        if buf is None or buf.size < param.size:
            buf = self._scratch[param.dtype] = np.empty(param.size, dtype=param.dtype)
        return buf[:param.size].reshape(param.shape)

    # ---------------------------------------------------------------- the loop
    def current_lr(self) -> float:
        """The learning rate the next ``step`` uses: ``lr`` or ``lr(iterations)``."""
        if not callable(self.lr):
            return self.lr
        lr = self.lr(self.iterations)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}: the lr schedule must return a finite number >= 0, got "
                             f"{lr!r} at step {self.iterations}")
        return float(lr)  # a Python float keeps float32 arithmetic in float32 (NumPy scalars would not)

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to every array in ``params``, in place. See the module docstring."""
        self._check_arguments(params, grads)
        if self._state_unchecked:
            self._check_loaded_state(params)
        lr = self.current_lr()
        if self.clipnorm is not None:
            clip_by_global_norm(grads, self.clipnorm)
        kernels = backend.active()  # fused loops (numba) or NumPy operations, the same arithmetic
        with kernels.pass_scope():
            for name, param in params.items():
                state = self.state.get(name)
                if state is None:
                    state = self.state[name] = self.init_state(param)
                self.update_one(name, param, grads[name], state, lr, kernels)
        self.iterations += 1

    def _check_arguments(self, params: dict, grads: dict) -> None:
        owner = type(self).__name__
        for name, param in params.items():
            if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
                raise TypeError(f"{owner}: parameter {name!r} must be a floating-point np.ndarray, got "
                                f"{type(param).__name__} {getattr(param, 'dtype', '')}".rstrip())
            if not param.flags.writeable:
                raise ValueError(f"{owner}: parameter {name!r} is read-only; it is updated in place")
            if name not in grads:
                raise ValueError(f"{owner}: no gradient for parameter {name!r}")
            grad = grads[name]
            if not isinstance(grad, np.ndarray) or grad.shape != param.shape:
                got = grad.shape if isinstance(grad, np.ndarray) else type(grad).__name__
                raise ValueError(f"{owner}: gradient for parameter {name!r} must have shape {param.shape}, "
                                 f"got {got}")
        unknown = [name for name in grads if name not in params]
        if unknown:
            raise ValueError(f"{owner}: gradients for unknown parameters {unknown}")

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat copy of the state: ``"iterations"`` plus ``"<param>/<slot>"`` arrays (module docstring)."""
        out = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, state in self.state.items():
            for slot, arr in state.items():
                out[f"{name}/{slot}"] = arr.copy()
        return out

    def load_state_dict(self, state) -> None:
        """Replace the state with ``state`` (a mapping as written by ``state_dict``, e.g. an ``NpzFile``).

        Keys are checked here; shapes and dtypes are checked against the parameters at the next ``step``,
        which must then pass exactly the parameters the state has entries for.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if "iterations" not in state:
            raise ValueError(f"{owner}: missing 'iterations'")
        iterations = np.asarray(state["iterations"])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise ValueError(f"{owner}: 'iterations' must be a 0-d integer array >= 0, got "
                             f"{iterations.dtype} array of shape {iterations.shape}")
        loaded: dict[str, dict[str, np.ndarray]] = {}
        for key in state:
            if key == "iterations":
                continue
            name, sep, slot = key.rpartition("/")
            if not sep or not name or slot not in self.slots:
                raise ValueError(f"{owner}: unexpected key {key!r}; expected 'iterations' or '<param>/<slot>' "
                               f"with slot in {self.slots}")
            loaded.setdefault(name, {})[slot] = np.array(state[key], copy=True)
        for name, slots in loaded.items():
            missing = [slot for slot in self.slots if slot not in slots]
            if missing:
                raise ValueError(f"{owner}: state for parameter {name!r} lacks slots {missing}")
        self.state = {name: {slot: slots[slot] for slot in self.slots} for name, slots in loaded.items()}
        self.iterations = int(iterations)
        self._state_unchecked = bool(loaded)

    def _check_loaded_state(self, params: dict) -> None:
        owner = type(self).__name__
        missing = [name for name in params if name not in self.state]
        unknown = [name for name in self.state if name not in params]
        if missing or unknown:
            raise ValueError(f"{owner}: the loaded state does not match the parameters: no state for {missing}, "
                             f"state for unknown parameters {unknown}")
        for name, param in params.items():
            for slot, expected in self.init_state(param).items():
                got = self.state[name][slot]
                if got.shape != expected.shape or got.dtype != expected.dtype:
                    raise ValueError(f"{owner}: loaded state '{name}/{slot}' must have shape {expected.shape} "
                                     f"and dtype {expected.dtype} for parameter {name!r}, got shape "
                                     f"{got.shape} and dtype {got.dtype}")
        self._state_unchecked = False

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        """JSON-serializable hyperparameters; a schedule appears as ``{"class_name": ..., "config": ...}``."""
        lr = schedules.serialize(self.lr) if callable(self.lr) else self.lr
        return {"lr": lr, "clipnorm": self.clipnorm}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def check_fraction(owner: str, name: str, value) -> float:
    """A decay rate in [0, 1): momentum, rho, beta1, beta2."""
    return check_number(owner, name, value, minimum=0, maximum=1, strict_max=True)
