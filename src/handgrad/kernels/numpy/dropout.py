"""Dropout's training forward pass: the mask drawn from a PCG64 bit generator, then applied."""
from __future__ import annotations

import numpy as np


def dropout_forward(x: np.ndarray, rate: float, bit_generator: np.random.PCG64):
    """``(y, scale)``: ``u = Generator(bit_generator).random(x.shape, x.dtype)`` (advancing ``bit_generator``),
    ``scale = (u >= rate) / (1 - rate)`` and ``y = x * scale``, all of ``x``'s shape and dtype.

    ``rate`` is compared in ``x``'s dtype, and ``1 / (1 - rate)`` rounded to it (NumPy's rule for a Python
    float against an array), so the kernel sets agree bit for bit.
    """
    scale = np.random.Generator(bit_generator).random(x.shape, dtype=x.dtype)  # u ~ U[0, 1)
    keep = scale >= x.dtype.type(rate)  # mask = u >= rate
    np.multiply(keep, x.dtype.type(1.0 / (1.0 - rate)), out=scale)  # (N, ...) mask / (1 - rate)
    return x * scale, scale
