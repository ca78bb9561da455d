"""Argument and input-array checks shared by every public constructor and entry point.

Each check names the argument, what was expected and what was received, so that a bad value fails where it
enters instead of as a NumPy error deep inside a training step.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from handgrad.errors import ArgumentError, ArgumentTypeError, NonFiniteError, ShapeError

__all__ = ["FLOAT_DTYPES", "ShapeError", "as_real_array", "check_batch", "check_choice", "check_float_dtype",
           "check_int", "check_number", "check_pair", "count_nonfinite"]


def check_number(owner: str, name: str, value, *, minimum=None, maximum=None, strict_min=False,
                 strict_max=False) -> float:
    """Return ``value`` as a float after checking it is a finite real number inside the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ArgumentError(f"{owner}: {name} must be finite, got {value!r}")
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        bound = ">" if strict_min else ">="
        raise ArgumentError(f"{owner}: {name} must be {bound} {minimum}, got {value!r}")
    if maximum is not None and (value > maximum or (strict_max and value == maximum)):
        bound = "<" if strict_max else "<="
        raise ArgumentError(f"{owner}: {name} must be {bound} {maximum}, got {value!r}")
    return value


def check_int(owner: str, name: str, value, *, minimum=None) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) and at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{owner}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ArgumentError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


def check_pair(owner: str, name: str, value, *, minimum=1) -> tuple[int, int]:
    """Return an ``(int, int)`` pair from an int or a 2-sequence of ints (kernel sizes, strides)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArgumentError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        return (check_int(owner, name, value[0], minimum=minimum), check_int(owner, name, value[1], minimum=minimum))
    v = check_int(owner, name, value, minimum=minimum)
    return (v, v)


def check_choice(owner: str, name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings)."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(f"{owner}: {name} must be one of {listed}, got {value!r}")
    return value


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(owner: str, name: str, dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64 (the dtypes every kernel supports).

    float16 is refused too: its 11-bit significand and largest value 65504 make the products and sums of a
    convolution overflow or lose every digit; train in float32 and check gradients in float64.
    """
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in FLOAT_DTYPES or not dt.isnative:
        got = dt if dt is not None else repr(dtype)
        hint = "; float16 is too narrow for training" if dt == np.float16 else ""
        raise ArgumentTypeError(f"{owner}: {name} must be np.float32 or np.float64, got {got}{hint}")
    return dt


def count_nonfinite(x: np.ndarray) -> int:
    """The number of NaN and infinite entries of ``x``."""
    return int(x.size - np.count_nonzero(np.isfinite(x)))


def as_real_array(owner: str, name: str, x) -> np.ndarray:
    """``np.asarray(x)`` if it holds real numbers (bool, int or float), else ``ShapeError``/``ArgumentTypeError``."""
    try:
        raw = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ShapeError(f"{owner}: {name} must be an array, got a {type(x).__name__} NumPy cannot convert: {e}") \
            from None
    if raw.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"{owner}: {name} must hold real numbers, got dtype {raw.dtype}")
    return raw


def check_batch(owner: str, x, sample_shape, dtype, *, n: int | None = None, name: str = "input",
                allow_empty: bool = False, finite: bool = True) -> np.ndarray:
    """Return ``x`` as an array of ``dtype`` after checking it is a batch ``(N, *sample_shape)`` of real numbers.

    Args:
        owner: the layer or model named in errors. name: the array's name in errors (``input``, ``dy``).
        n: the batch size ``N`` required (None: any). allow_empty: accept ``N = 0``.
        finite: refuse NaN and inf, counted after the conversion to ``dtype`` (a float64 value beyond
            float32's range becomes inf and is refused as such).

    Raises ``ShapeError`` (not an array, wrong rank or shape, empty batch), ``ArgumentTypeError`` (complex,
    string or object dtype) or ``NonFiniteError``.
    """
    raw = as_real_array(owner, name, x)
    sample_shape = tuple(sample_shape)
    if raw.ndim != len(sample_shape) + 1 or raw.shape[1:] != sample_shape or (n is not None and raw.shape[0] != n):
        expected = ", ".join(["N" if n is None else str(n), *map(str, sample_shape)])
        raise ShapeError(f"{owner}: expected {name} of shape ({expected}), got {raw.shape}")
    if raw.shape[0] == 0 and not allow_empty:
        raise ShapeError(f"{owner}: {name} is an empty batch of shape {raw.shape}; expected N >= 1 samples")
    if raw.dtype == dtype:
        out = raw
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf, refused below
            out = raw.astype(dtype)
    if finite and not np.isfinite(out).all():
        bad = count_nonfinite(out)
        before = count_nonfinite(raw) if raw.dtype.kind == "f" else 0
        why = f" ({bad - before} of them beyond the range of {out.dtype})" if bad > before else ""
        raise NonFiniteError(f"{owner}: {name} holds {bad} non-finite value(s) (NaN or inf) among {out.size}{why}")
    return out
