"""Learning-rate schedules: callables ``step -> lr``.

``step`` counts optimizer iterations from 0: the ``k``-th call of ``Optimizer.step`` (``k = 0, 1, ...``)
uses ``schedule(k)``. This is the lr PyTorch uses at step ``k`` when ``scheduler.step()`` is called once
after every ``optimizer.step()``.

Formulas (``lr`` is the peak/base rate)::

    Constant(lr):                      lr
    StepDecay(lr, step_size, gamma):   lr * gamma ** (k // step_size)                      (torch StepLR)
    Cosine(lr, total_steps, min_lr):   min_lr + (lr - min_lr) * (1 + cos(pi * min(k, T) / T)) / 2,  T = total_steps
                                       (torch CosineAnnealingLR for k <= T; then held at min_lr, not periodic)
    Warmup(schedule, warmup_steps):    schedule(k) * min(1, (k + 1) / warmup_steps)

Warmup *multiplies* the wrapped schedule by a linear ramp on the same step axis (the wrapped schedule is not
delayed): the first step uses ``schedule(0) / warmup_steps``, step ``warmup_steps - 1`` is the first at
full strength. The ramp never gives lr = 0, so no step is wasted. It equals torch's
``LambdaLR(opt, lambda k: min(1, (k + 1) / W) * factor(k))`` where ``factor`` is the wrapped schedule / lr.

Every schedule has ``get_config()``; ``serialize``/``get`` convert to and from
``{"class_name": ..., "config": ...}``.
"""
from __future__ import annotations

import math

from handgrad._validation import check_int, check_number


class Schedule:
    """Base class: ``__call__(step) -> float`` and ``get_config() -> dict`` (the constructor's arguments)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()


def _check_lr(owner: str, lr) -> float:
    return check_number(owner, "lr", lr, minimum=0, strict_min=True)


class Constant(Schedule):
    """``lr(k) = lr``.

    Args:
        lr: the rate, finite and > 0.
    """

    def __init__(self, lr: float):
        self.lr = _check_lr("Constant", lr)

    def __call__(self, step: int) -> float:
        return self.lr

    def get_config(self) -> dict:
        return {"lr": self.lr}


class StepDecay(Schedule):
    """``lr(k) = lr * gamma ** (k // step_size)``: multiply by ``gamma`` every ``step_size`` steps (torch StepLR).

    Args:
        lr: initial rate, finite and > 0.
        step_size: steps between decays, int >= 1.
        gamma: decay factor, in (0, 1]. Default 0.1 (as torch).
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1):
        self.lr = _check_lr("StepDecay", lr)
        self.step_size = check_int("StepDecay", "step_size", step_size, minimum=1)
        self.gamma = check_number("StepDecay", "gamma", gamma, minimum=0, strict_min=True, maximum=1)

    def __call__(self, step: int) -> float:
        return self.lr * self.gamma ** (int(step) // self.step_size)

    def get_config(self) -> dict:
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


class Cosine(Schedule):
    """``lr(k) = min_lr + (lr - min_lr) * (1 + cos(pi * min(k, T) / T)) / 2`` with ``T = total_steps``.

    Starts at ``lr`` (k = 0), reaches ``min_lr`` at ``k = T`` and stays there (torch's CosineAnnealingLR would
    rise again after ``T``; a training run has no use for that).

    Args:
        lr: initial rate, finite and > 0.
        total_steps: ``T``, steps of the decay, int >= 1.
        min_lr: final rate, finite, in [0, lr]. Default 0.0 (torch's ``eta_min``).
    """

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0):
        self.lr = _check_lr("Cosine", lr)
        self.total_steps = check_int("Cosine", "total_steps", total_steps, minimum=1)
        self.min_lr = check_number("Cosine", "min_lr", min_lr, minimum=0, maximum=self.lr)

    def __call__(self, step: int) -> float:
        k = min(int(step), self.total_steps)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * k / self.total_steps)) / 2

    def get_config(self) -> dict:
        return {"lr": self.lr, "total_steps": self.total_steps, "min_lr": self.min_lr}


class Warmup(Schedule):
    """``lr(k) = schedule(k) * min(1, (k + 1) / warmup_steps)``: a linear ramp laid over ``schedule``.

    Step 0 uses ``schedule(0) / warmup_steps``; from step ``warmup_steps - 1`` on, ``schedule`` unchanged. The
    wrapped schedule keeps its own step axis (it is not delayed by ``warmup_steps``).

    Args:
        schedule: the schedule to ramp into: a ``Schedule`` or a number (taken as ``Constant``).
        warmup_steps: length of the ramp, int >= 1.
    """

    def __init__(self, schedule, warmup_steps: int):
        if not isinstance(schedule, Schedule):
            schedule = Constant(schedule) if not callable(schedule) else schedule
        self.schedule = schedule
        self.warmup_steps = check_int("Warmup", "warmup_steps", warmup_steps, minimum=1)

    def __call__(self, step: int) -> float:
        step = int(step)
        lr = self.schedule(step)
        if step < self.warmup_steps:
            lr = lr * (step + 1) / self.warmup_steps
        return lr

    def get_config(self) -> dict:
        return {"schedule": serialize(self.schedule), "warmup_steps": self.warmup_steps}


_CLASSES = {"Constant": Constant, "StepDecay": StepDecay, "Cosine": Cosine, "Warmup": Warmup}
_NAMES = ("constant", "step", "cosine")


def serialize(schedule) -> dict:
    """``{"class_name": ..., "config": ...}``; a plain callable without ``get_config`` gives its repr as config."""
    config = schedule.get_config() if hasattr(schedule, "get_config") else repr(schedule)
    return {"class_name": type(schedule).__name__, "config": config}


def get(identifier) -> Schedule:
    """Inverse of ``serialize``: a ``Schedule`` is returned as is, a dict is rebuilt (``Warmup`` recursively)."""
    if isinstance(identifier, Schedule):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            raise ValueError(f"unknown schedule class_name {name!r}; expected one of {sorted(_CLASSES)}")
        config = dict(identifier.get("config", {}))
        if name == "Warmup":
            config["schedule"] = get(config["schedule"])
        return _CLASSES[name](**config)
    raise TypeError(f"cannot interpret {identifier!r} ({type(identifier).__name__}) as a schedule")


def make_schedule(name: str, lr: float, total_steps: int, warmup_steps: int = 0, step_size: int | None = None,
                  gamma: float = 0.1, min_lr: float = 0.0) -> Schedule:
    """Build a schedule from CLI options.

    Args:
        name: ``"constant"``, ``"step"`` (``StepDecay``) or ``"cosine"``.
        lr: base (peak) rate, finite and > 0.
        total_steps: optimizer steps in the whole run (epochs * batches per epoch), int >= 1; the cosine decays
            over all of them, warmup included.
        warmup_steps: length of the linear ramp, int >= 0; 0 means no ``Warmup`` wrapper.
        step_size: steps between decays, required for ``"step"``, ignored otherwise.
        gamma: decay factor for ``"step"``. Default 0.1.
        min_lr: final rate for ``"cosine"``. Default 0.0.
    """
    if name not in _NAMES:
        raise ValueError(f"make_schedule: name must be one of {', '.join(map(repr, _NAMES))}, got {name!r}")
    total_steps = check_int("make_schedule", "total_steps", total_steps, minimum=1)
    warmup_steps = check_int("make_schedule", "warmup_steps", warmup_steps, minimum=0)
    if name == "constant":
        schedule = Constant(lr)
    elif name == "step":
        if step_size is None:
            raise ValueError("make_schedule: step_size is required for the 'step' schedule, got None")
        schedule = StepDecay(lr, step_size, gamma)
    else:
        schedule = Cosine(lr, total_steps, min_lr)
    return Warmup(schedule, warmup_steps) if warmup_steps > 0 else schedule
