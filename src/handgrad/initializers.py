"""Weight initializers. Each takes ``(shape, fan_in, fan_out, rng, dtype)`` and returns a new array.

``fan_in``/``fan_out`` for a conv kernel ``(F, C, KH, KW)`` are ``C*KH*KW`` and ``F*KH*KW``; for a dense
kernel ``(in, out)`` they are ``in`` and ``out`` (the definitions of Keras and PyTorch).

- ``glorot_uniform`` (Keras's default): U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))``
- ``glorot_normal``: N(0, 2 / (fan_in + fan_out))
- ``he_uniform``: U(-l, l), ``l = sqrt(6 / fan_in)``
- ``he_normal``: N(0, 2 / fan_in)
- ``zeros``
"""
from __future__ import annotations

import numpy as np


def glorot_uniform(shape, fan_in, fan_out, rng, dtype):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, fan_in, fan_out, rng, dtype):
    return (rng.standard_normal(size=shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype):
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, fan_in, fan_out, rng, dtype):
    return (rng.standard_normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def zeros(shape, fan_in, fan_out, rng, dtype):
    return np.zeros(shape, dtype=dtype)


_BY_NAME = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros)}


def get(identifier):
    """A callable initializer from a name (``"he_normal"``, ...) or the callable itself."""
    if callable(identifier):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)}")
    return _BY_NAME[identifier]
