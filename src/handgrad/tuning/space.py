"""The search space of ``handgrad tune``: which ``TrainConfig`` fields a study varies, over what, and which it fixes.

A space is the default one (``DEFAULT_SPACE``) or read from a TOML file (``load_space``)::

    [fixed]                  # values every trial uses (a flag on the command line wins over these)
    optimizer = "nesterov"

    [search.lr]              # a float range; log = true samples log-uniformly
    low = 1e-4
    high = 3e-3
    log = true

    [search.weight_l2]       # zero = true: exactly 0, or a value from the (log) range; two Optuna
    low = 1e-6               # parameters, "weight_l2_zero" (true/false) and "weight_l2" (only when not zero)
    high = 1e-3
    log = true
    zero = true

    [search.activity_on]     # a choice among listed values
    choices = ["pre", "post"]

    [grid]                   # instead of [search]: every combination once (Optuna's GridSampler)
    activity_l2 = [0, 1e-6, 1e-5]
    activity_on = ["pre", "post"]

Int fields take ``low``/``high`` (and ``step``, ``log``) too. Every bound and choice is checked against
``TrainConfig``'s own validation when the file is read, so that a bad space fails before any trial starts,
with an error naming the file, the table and the key.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

from handgrad.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Fields that name or locate a run, or define the objective itself (the validation split): never searched.
NOT_SEARCHABLE = ("dataset", "data_dir", "validation_size", "out_dir", "name", "seed")
# Fields a space file may not fix: each trial gets its own run directory name.
NOT_FIXABLE = ("name",)
ZERO_SUFFIX = "_zero"
# Optuna's GridSampler holds every combination in memory and each one is a training run: a grid is counted
# (the product of its lists' lengths, never expanded) and refused above this size.
MAX_GRID = 100_000


def field_types() -> dict[str, type]:
    """``{"lr": float, "clipnorm": float, "epochs": int, "activity_on": str, "augment": bool, ...}``."""
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for f in dataclasses.fields(TrainConfig):
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        out[f.name] = args[0] if args else kind
    return out


@dataclass(frozen=True)
class Range:
    """A number from ``[low, high]`` (log-uniform when ``log``; ints in steps of ``step``); with ``zero``, exactly
    0 is a separate choice, suggested first as the boolean parameter ``<name>_zero``."""

    name: str
    kind: type  # float or int
    low: float
    high: float
    log: bool = False
    step: float | None = None
    zero: bool = False

    def suggest(self, trial):
        if self.zero and trial.suggest_categorical(self.name + ZERO_SUFFIX, [False, True]):
            return self.kind(0)
        if self.kind is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        text = f"{'log-' if self.log else ''}{self.kind.__name__}[{self.low:g}, {self.high:g}]"
        if self.step is not None:
            text += f" step {self.step:g}"
        return f"0 or {text}" if self.zero else text


@dataclass(frozen=True)
class Choice:
    """One of ``choices`` (strings, numbers or booleans)."""

    name: str
    choices: tuple

    def suggest(self, trial):
        return trial.suggest_categorical(self.name, list(self.choices))

    def describe(self) -> str:
        return "{" + ", ".join(str(c) for c in self.choices) + "}"


@dataclass(frozen=True)
class SearchSpace:
    """What a study varies (``params``, or a ``grid`` of every combination) and what it fixes (``fixed``).

    ``fixed`` holds the space file's ``[fixed]`` values and the ``handgrad tune`` flags given (flags win).
    """

    params: tuple = ()  # (Range | Choice, ...)
    grid: dict | None = None  # {field: [values]} for GridSampler
    fixed: dict = dataclasses.field(default_factory=dict)
    source: str = "default space"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.grid) if self.grid is not None else tuple(p.name for p in self.params)

    def grid_size(self) -> int | None:
        return None if self.grid is None else math.prod(len(v) for v in self.grid.values())

    def suggest(self, trial) -> dict:
        """The searched fields' values for ``trial`` (``{field: value}``), asking the trial's sampler."""
        if self.grid is not None:
            return {name: trial.suggest_categorical(name, list(values)) for name, values in self.grid.items()}
        return {p.name: p.suggest(trial) for p in self.params}

    def with_fixed(self, values: dict) -> "SearchSpace":
        """This space with ``values`` fixed (``handgrad tune`` flags): a fixed field is no longer searched."""
        params = tuple(p for p in self.params if p.name not in values)
        grid = None if self.grid is None else {k: v for k, v in self.grid.items() if k not in values}
        if grid is not None and not grid:
            raise ValueError(f"{self.source}: every [grid] field is fixed by a flag ({', '.join(self.grid)}): "
                             "nothing is left to search")
        return dataclasses.replace(self, params=params, grid=grid, fixed={**self.fixed, **values})

    def describe(self, local=()) -> dict:
        """JSON-able summary, stored with the study so that a resumed study can be checked against it; fields in
        ``local`` (paths that differ between machines) are left out."""
        searched = ({k: list(v) for k, v in self.grid.items()} if self.grid is not None
                    else {p.name: p.describe() for p in self.params})
        return {"kind": "grid" if self.grid is not None else "search", "searched": searched,
                "fixed": {k: v for k, v in sorted(self.fixed.items()) if k not in local}}


DEFAULT_SPACE = SearchSpace(params=(
    Range("lr", float, 1e-4, 3e-3, log=True),
    Range("weight_l2", float, 1e-6, 1e-3, log=True, zero=True),
    Range("activity_l2", float, 1e-8, 1e-3, log=True, zero=True),
    Choice("activity_on", ("pre", "post")),
    Range("dropout", float, 0.0, 0.6),
))


# ---------------------------------------------------------------------------------------------- reading TOML
def _check_value(where: str, name: str, value):
    """Check one value of field ``name`` with ``TrainConfig``'s own validation; return it converted."""
    kind = field_types()[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    try:
        TrainConfig(**{name: value})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {str(e).removeprefix('TrainConfig: ')}") from None
    if (kind is bool) != isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be a {kind.__name__}, got {value!r}")
    return value


def _check_name(where: str, name: str, forbidden) -> None:
    known = [f.name for f in dataclasses.fields(TrainConfig)]
    if name not in known:
        raise ValueError(f"{where}: {name!r} is not a training setting (expected one of: {', '.join(known)})")
    if name in forbidden:
        raise ValueError(f"{where}: {name!r} cannot be set here (not allowed: {', '.join(forbidden)})")


def _parse_param(where: str, name: str, spec) -> Range | Choice:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a table with low/high or choices, got {spec!r}")
    kind = field_types()[name]
    if "choices" in spec:
        extra = sorted(set(spec) - {"choices"})
        if extra:
            raise ValueError(f"{where}: choices cannot be combined with {', '.join(extra)}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"{where}: choices must be a non-empty list, got {choices!r}")
        return Choice(name, tuple(_check_value(f"{where}.choices", name, c) for c in choices))
    if kind not in (int, float):
        raise ValueError(f"{where}: {name} is a {kind.__name__} setting: give choices = [...]")
    allowed = {"low", "high", "log", "step", "zero"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)} (expected: low, high, log, step, zero, "
                         "or choices)")
    missing = [k for k in ("low", "high") if k not in spec]
    if missing:
        raise ValueError(f"{where}: missing {' and '.join(missing)}")
    low = _check_value(f"{where}.low", name, spec["low"])
    high = _check_value(f"{where}.high", name, spec["high"])
    if not low < high:
        raise ValueError(f"{where}: low must be < high, got low = {low!r}, high = {high!r}")
    for key in ("log", "zero"):
        if not isinstance(spec.get(key, False), bool):
            raise ValueError(f"{where}.{key}: must be true or false, got {spec[key]!r}")
    log, zero, step = spec.get("log", False), spec.get("zero", False), spec.get("step")
    if log and low <= 0:
        raise ValueError(f"{where}: a log range needs low > 0, got low = {low!r} (use zero = true to also try 0)")
    if zero:
        _check_value(f"{where}.zero", name, kind(0))
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise ValueError(f"{where}.step: must be a positive number, got {step!r}")
        if log:
            raise ValueError(f"{where}: step and log cannot be combined")
        if kind is int and not isinstance(step, int):
            raise ValueError(f"{where}.step: {name} is an int setting, got step = {step!r}")
    return Range(name, kind, low, high, log=log, step=step, zero=zero)


def parse_space(data: dict, source: str) -> SearchSpace:
    """A ``SearchSpace`` from a parsed TOML document (see the module docstring); ``source`` names it in errors."""
    unknown = sorted(set(data) - {"fixed", "search", "grid"})
    if unknown:
        raise ValueError(f"{source}: unknown tables {', '.join(unknown)} (expected [fixed], [search.FIELD] or [grid])")
    for table in ("fixed", "search", "grid"):
        if table in data and not isinstance(data[table], dict):
            raise ValueError(f"{source}: {table} must be a table ([{table}]), got {data[table]!r}")
    fixed = {}
    for name, value in data.get("fixed", {}).items():
        where = f"{source}: [fixed] {name}"
        _check_name(where, name, NOT_FIXABLE)
        fixed[name] = _check_value(where, name, value)
    if "search" in data and "grid" in data:
        raise ValueError(f"{source}: give either [search.FIELD] tables or one [grid] table, not both")
    searched = {**data.get("search", {}), **data.get("grid", {})}
    for name in searched:
        where = f"{source}: [{'grid' if 'grid' in data else 'search.' + name}] {name}"
        _check_name(where, name, NOT_SEARCHABLE)
        if name in fixed:
            raise ValueError(f"{where}: {name} is also in [fixed]; a field is either fixed or searched")
    if "grid" in data:
        grid = {}
        for name, values in data["grid"].items():
            where = f"{source}: [grid] {name}"
            if not isinstance(values, list) or not values:
                raise ValueError(f"{where}: must be a non-empty list of values, got {values!r}")
            grid[name] = [_check_value(where, name, v) for v in values]
            if len(set(map(repr, grid[name]))) != len(grid[name]):
                raise ValueError(f"{where}: values repeat in {values!r}")
        if not grid:
            raise ValueError(f"{source}: [grid] is empty")
        size = math.prod(len(v) for v in grid.values())
        if size > MAX_GRID:
            counts = " x ".join(str(len(v)) for v in grid.values())
            raise ValueError(f"{source}: [grid] has {size:,} combinations ({counts}), more than the {MAX_GRID:,} a "
                             "study can run; use [search.FIELD] ranges instead")
        return SearchSpace(grid=grid, fixed=fixed, source=source)
    if "search" in data:
        params = tuple(_parse_param(f"{source}: [search.{name}]", name, spec) for name, spec in data["search"].items())
        if not params:
            raise ValueError(f"{source}: [search] is empty")
        return SearchSpace(params=params, fixed=fixed, source=source)
    # Only [fixed]: the default space, less what the file fixes.
    return dataclasses.replace(DEFAULT_SPACE.with_fixed(fixed), source=source)


def load_space(path) -> SearchSpace:
    """Read a space file (``--space FILE.toml``); errors name the file and, where it applies, the key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--space: {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"--space: {path} is not valid TOML: {e}") from None
    return parse_space(data, str(path))


def grid_points(space: SearchSpace):
    """Every combination of a grid space, in file order, one at a time (a generator: never the whole grid)."""
    names = list(space.grid)
    return (dict(zip(names, combo)) for combo in itertools.product(*space.grid.values()))
