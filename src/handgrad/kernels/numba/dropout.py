"""Dropout's training forward pass on the thread team: the uniform draws made by numba, split over the threads.

The mask's uniform values are ``Generator.random``'s, bit for bit, made by ``pcg64`` (NumPy's PCG64 and its
float conversions in numba, ~2.9x as fast as NumPy's fill loop). The value at position ``p`` needs
no draw before it: float32 takes the low then the high half of each 64-bit draw (after a high half the bit
generator may have kept), float64 one draw per value, so a part starting at a whole draw starts from the
state ``pcg64.advance`` jumps to. Each thread draws its part into ``scale`` and makes ``scale`` and ``y`` from it
in one more loop over the same (cache-resident) part. The bit generator is left in the state one sequential
draw leaves. Same values, mask and state as the NumPy set's ``dropout_forward``
(``tests/kernels/test_dropout.py``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from handgrad.kernels import threads
from handgrad.kernels.numba import buffers, pcg64
from handgrad.kernels.numpy import dropout as numpy_dropout

# Values per part at least: smaller masks are drawn in fewer parts (one: on the calling thread).
MIN_TASK_ELEMENTS = 1 << 15


@njit(nogil=True, cache=True)
def _apply(x, rate, s, scale, y):
    """``scale = s if u >= rate else 0`` (``u`` drawn into ``scale``) and ``y = x * scale``; flat arrays."""
    zero = scale.dtype.type(0)
    for i in range(x.size):
        k = s if scale[i] >= rate else zero
        scale[i] = k
        y[i] = x[i] * k


def _starts(n: int, parts: int, buffered: int, pair: int) -> list[int]:
    """The first value of each part: about ``n / parts`` values each, each part after the first starting
    at a whole 64-bit draw (``pair`` values per draw, after the ``buffered`` half of a draw left over)."""
    starts = [0]
    for j in range(1, parts):
        p = buffered + (j * n // parts - buffered) // pair * pair
        if starts[-1] < p < n:
            starts.append(p)
    return starts


def dropout_forward(x: np.ndarray, rate: float, bit_generator: np.random.PCG64):
    """As ``handgrad.kernels.numpy.dropout.dropout_forward``: ``(y, scale)``, ``bit_generator`` advanced; the
    NumPy set's for other bit generators and for arrays that are not C-contiguous float32/float64 (its output
    layout follows ``x``'s)."""
    fits = x.dtype in (np.float32, np.float64) and x.flags.c_contiguous
    if not fits or type(bit_generator) is not np.random.PCG64:
        return numpy_dropout.dropout_forward(x, rate, bit_generator)
    state = bit_generator.state
    single = x.dtype == np.float32  # one 32-bit output per value, else one 64-bit draw
    buffered = state["has_uint32"] if single else 0
    pair = 2 if single else 1
    n = x.size
    starts = _starts(n, max(1, min(threads.num_threads(), n // MIN_TASK_ELEMENTS)), buffered, pair) + [n]
    words = np.empty((len(starts) - 1, 4), np.uint64)  # each part's starting state
    words[:] = pcg64.state_words(state)
    for j, p in enumerate(starts[1:-1], start=1):
        pcg64.advance(words[j], (p - buffered) // pair)
    kept = [(state["has_uint32"], state["uinteger"])] * (len(starts) - 1)  # each part's kept half at its end
    scale = buffers.empty(x.shape, x.dtype)
    y = buffers.empty(x.shape, x.dtype)
    x_flat, scale_flat, y_flat = x.reshape(-1), scale.reshape(-1), y.reshape(-1)
    r, s = x.dtype.type(rate), x.dtype.type(1.0 / (1.0 - rate))

    def task(j, _):
        lo, hi = starts[j], starts[j + 1]
        if single:  # a part after the first starts at a whole draw: nothing kept
            has, uinteger = state["has_uint32"] if j == 0 else 0, state["uinteger"]
            kept[j] = pcg64.uniform_f32(words[j], has, uinteger, scale_flat[lo:hi])  # u ~ U[0, 1)
        else:
            pcg64.uniform_f64(words[j], scale_flat[lo:hi])
        _apply(x_flat[lo:hi], r, s, scale_flat[lo:hi], y_flat[lo:hi])

    threads.parallel_for(task, len(starts) - 1, 1)
    bit_generator.state = pcg64.state_dict(words[-1], *kept[-1])
    return y, scale
