"""Argument checks shared by every public constructor.

Each check names the argument, what was expected and what was received, so that a bad value fails where it
enters instead of as a NumPy error deep inside a training step.
"""
from __future__ import annotations

import math
import numbers


def check_number(owner: str, name: str, value, *, minimum=None, maximum=None, strict_min=False,
                 strict_max=False) -> float:
    """Return ``value`` as a float after checking it is a finite real number inside the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        bound = ">" if strict_min else ">="
        raise ValueError(f"{owner}: {name} must be {bound} {minimum}, got {value!r}")
    if maximum is not None and (value > maximum or (strict_max and value == maximum)):
        bound = "<" if strict_max else "<="
        raise ValueError(f"{owner}: {name} must be {bound} {maximum}, got {value!r}")
    return value


def check_int(owner: str, name: str, value, *, minimum=None) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) and at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


def check_pair(owner: str, name: str, value, *, minimum=1) -> tuple[int, int]:
    """Return an ``(int, int)`` pair from an int or a 2-sequence of ints (kernel sizes, strides)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        return (check_int(owner, name, value[0], minimum=minimum), check_int(owner, name, value[1], minimum=minimum))
    v = check_int(owner, name, value, minimum=minimum)
    return (v, v)


def check_choice(owner: str, name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings)."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}: {name} must be one of {listed}, got {value!r}")
    return value


class ShapeError(ValueError):
    """An array or a layer's input does not have the shape the layer was built for."""
