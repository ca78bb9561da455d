"""The user's gradient code, called safely: a function ``f(params, x, y, **coefficients)`` or a model object.

Both forms are wrapped as a ``Target`` that evaluates ``(loss, grads)`` at given float64 parameter arrays and
coefficient values, and guarantees that nothing of the user's is left changed:

- the user's code receives fresh copies of the parameters, ``x`` and ``y`` at every call; a call that writes
  into them is noticed (``Target.wrote_into``) and cannot leak into the next evaluation;
- an object's ``params`` dict and coefficient attributes are put back exactly (same dict, same array
  objects, same values) by ``Target.restore()``, also when the user's code raises;
- every error of the user's code becomes a ``UserCodeError`` naming the function (the user's traceback is
  kept as ``__cause__``); wrong return types get a message saying what was expected and what came back.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from handgrad.errors import UserCodeError  # the user's code raised, exited or returned the wrong types
from handgrad.user_code import call_user


def describe(obj) -> str:
    """``loss_and_grads (my_net.py)`` or ``ConvNet.loss (my_net.py)``: how messages name the user's code."""
    code = getattr(obj, "__code__", None) or getattr(getattr(obj, "__func__", None), "__code__", None)
    where = f" ({code.co_filename})" if code is not None else ""
    return f"{getattr(obj, '__qualname__', type(obj).__name__)}{where}"


def _is_float32(value) -> bool:
    return getattr(value, "dtype", None) in (np.float32, np.float16)


class Target:
    """Common part of both forms: call the user's code on copies, check what it returns, record dtypes."""

    coefficient_names: tuple[str, ...] = ()
    float32_params: list[str] = []  # the user's parameters held in float32 (checked on float64 copies)

    def __init__(self, names: list[str], base: dict[str, np.ndarray], function_name: str):
        self.names = names
        self.base = base  # name -> float64 array: where the check runs (perturbed in place, restored entrywise)
        self.function_name = function_name
        self.wrote_into: set[str] = set()  # "params['W1']", "x": inputs the user's code modified in place
        self.float32_returned: set[str] = set()  # "loss", "grads['W1']": values the user's code gave in float32
        self.loss_values: list[float] = []

    def evaluate(self, x, y, coefficients: dict | None, want_grads: bool = True):
        """``(loss, grads)`` at ``self.base`` (grads ``None`` unless ``want_grads``); ``coefficients`` maps
        each coefficient name to its value (``None``: leave the user's own values)."""
        given = {k: a.copy() for k, a in self.base.items()}
        xc, yc = np.array(x, copy=True), np.array(y, copy=True)
        # the user's code: any exception, sys.exit included, becomes one line naming it and its file:line
        out = call_user(self._call, given, xc, yc, coefficients, what=self.function_name)
        self._note_writes(given, xc, yc, x, y)
        loss, grads = self._unpack(out)
        self.loss_values.append(loss)
        return loss, (self._check_grads(grads) if want_grads else None)

    def _note_writes(self, given, xc, yc, x, y):
        for k, a in given.items():
            if not np.array_equal(a, self.base[k]):
                self.wrote_into.add(f"params[{k!r}]")
        if not np.array_equal(xc, x):
            self.wrote_into.add("x")
        if not np.array_equal(yc, y):
            self.wrote_into.add("y")

    def _unpack(self, out):
        if not (isinstance(out, tuple) and len(out) == 2):
            raise UserCodeError(f"{self.function_name} must return (loss, grads), got {_kind(out)}")
        loss, grads = out
        if isinstance(loss, (bool, np.bool_)) or np.ndim(loss) != 0 or not np.issubdtype(np.asarray(loss).dtype,
                                                                                        np.number):
            raise UserCodeError(f"{self.function_name} must return a float loss first, got {_kind(loss)}")
        if _is_float32(loss):
            self.float32_returned.add("loss")
        value = float(loss)
        if not np.isfinite(value):
            raise UserCodeError(f"{self.function_name} returned a non-finite loss ({value})")
        return value, grads

    def _check_grads(self, grads) -> dict[str, np.ndarray]:
        if not isinstance(grads, dict):
            raise UserCodeError(f"{self.function_name} must return (loss, grads) with grads a dict of arrays "
                                f"named like the parameters, got grads of type {type(grads).__name__}")
        missing, extra = sorted(set(self.names) - set(grads)), sorted(set(grads) - set(self.names))
        if missing or extra:
            raise UserCodeError(f"{self.function_name}: grads must have the keys of params; "
                                f"missing {missing}, unexpected {extra}")
        out = {}
        for k in self.names:
            g = grads[k]
            if np.shape(g) != self.base[k].shape:
                raise UserCodeError(f"{self.function_name}: grads[{k!r}] has shape {np.shape(g)}, "
                                    f"params[{k!r}] has {self.base[k].shape}")
            if _is_float32(g):
                self.float32_returned.add(f"grads[{k!r}]")
            g = np.array(g, dtype=np.float64)
            if not np.all(np.isfinite(g)):
                raise UserCodeError(f"{self.function_name}: grads[{k!r}] has non-finite entries")
            out[k] = g
        return out

    def restore(self) -> None:
        """Put back whatever of the user's was changed for the check (nothing for the function form)."""

    def _call(self, params, x, y, coefficients):
        raise NotImplementedError


def _kind(value) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    shape = np.shape(value) if isinstance(value, np.ndarray) else None
    return f"{type(value).__name__}" + (f" of shape {shape}" if shape is not None else "")


def _float64_params(params, where: str) -> dict[str, np.ndarray]:
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{where} must be a non-empty dict name -> array, got {type(params).__name__}")
    out = {}
    for k, v in params.items():
        a = np.asarray(v)
        if not np.issubdtype(a.dtype, np.number) or a.size == 0:
            raise TypeError(f"{where}[{k!r}] must be a non-empty numeric array, got {_kind(v)} of dtype {a.dtype}")
        out[k] = np.array(a, dtype=np.float64)
    return out


class FunctionTarget(Target):
    """``f(params, x, y, **coefficients) -> (loss, grads)``; the user's ``params`` dict is never touched."""

    def __init__(self, function: Callable, params: dict, coefficient_names=(), coefficients: dict | None = None):
        if not callable(function):
            raise TypeError(f"diagnose: target must be a function or an object with .params and .loss, "
                            f"got {type(function).__name__}")
        super().__init__(list(params), _float64_params(params, "params"), describe(function))
        self.function = function
        self.coefficient_names = tuple(coefficient_names)
        self.defaults = self._coefficient_values(coefficients or {})

    def _coefficient_values(self, given: dict) -> dict[str, float]:
        """The coefficients' values when on: ``given``, else the function's keyword defaults."""
        if not self.coefficient_names:
            return {}
        try:
            signature = inspect.signature(self.function)
        except (TypeError, ValueError):
            signature = None
        values = {}
        for name in self.coefficient_names:
            if name in given:
                values[name] = given[name]
                continue
            parameter = signature.parameters.get(name) if signature is not None else None
            takes_any = signature is not None and any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
            if parameter is None and not takes_any:
                raise ValueError(f"terms: {self.function_name} has no keyword argument {name!r}; it must be "
                                 f"f(params, x, y, {name}=...) -> (loss, grads)")
            if parameter is None or parameter.default is inspect.Parameter.empty:
                raise ValueError(f"terms: {self.function_name}'s keyword argument {name!r} has no default value; "
                                 f"give it with coefficients={{{name!r}: value}}")
            values[name] = parameter.default
        return values

    def on_values(self) -> dict[str, float]:
        return dict(self.defaults)

    def _call(self, params, x, y, coefficients):
        return self.function(params, x, y, **(coefficients or {}))


class ObjectTarget(Target):
    """A model object with ``.params`` (name -> array) and ``.loss(X, y) -> (loss, grads)``, coefficients as
    attributes (CS231n's interface). During the check ``model.params`` holds float64 copies; ``restore()``
    puts back the user's dict, its array objects and the coefficient attributes."""

    def __init__(self, model, coefficient_names=()):
        params = getattr(model, "params", None)
        if not isinstance(params, dict) or not callable(getattr(model, "loss", None)):
            raise TypeError(f"diagnose: target must be a function f(params, x, y, **coefficients) -> (loss, grads) "
                            f"or an object with .params (a dict) and .loss(X, y) -> (loss, grads); got "
                            f"{type(model).__name__}")
        super().__init__(list(params), _float64_params(params, f"{type(model).__name__}.params"),
                         describe(model.loss))
        self.model = model
        self.coefficient_names = tuple(coefficient_names)
        self.float32_params = [k for k, v in params.items() if _is_float32(np.asarray(v))]  # checked as float64
        self._params_dict = params
        self._params_items = dict(params)  # the user's own array objects
        self._attributes = {}
        for name in self.coefficient_names:
            if not hasattr(model, name):
                raise ValueError(f"terms: {type(model).__name__} has no attribute {name!r} (the coefficient named "
                                 f"in terms)")
            self._attributes[name] = getattr(model, name)

    def on_values(self) -> dict[str, float]:
        return dict(self._attributes)

    def _call(self, params, x, y, coefficients):
        model = self.model
        model.params = self._params_dict
        model.params.clear()
        model.params.update(params)
        for name, value in (coefficients or {}).items():
            setattr(model, name, value)
        out = model.loss(x, y)
        for k in self.names:  # the user's loss may rebind or write into model.params[k]
            current = model.params.get(k) if isinstance(model.params, dict) else None
            if current is not params[k]:
                self.wrote_into.add(f"params[{k!r}] (rebound)")
        return out

    def restore(self) -> None:
        self.model.params = self._params_dict
        self._params_dict.clear()
        self._params_dict.update(self._params_items)
        for name, value in self._attributes.items():
            setattr(self.model, name, value)


def make_target(target, params=None, coefficient_names=(), coefficients=None) -> Target:
    """A ``FunctionTarget`` when ``params`` is given, else an ``ObjectTarget``."""
    if params is not None:
        return FunctionTarget(target, params, coefficient_names, coefficients)
    if coefficients:
        raise ValueError("diagnose: coefficients= applies to the function form only; an object's coefficients "
                         "are its attributes")
    if callable(target) and not hasattr(target, "params"):
        raise TypeError(f"diagnose: {describe(target)} is a function: give params= (name -> array)")
    return ObjectTarget(target, coefficient_names)
