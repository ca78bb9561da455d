"""Waiting for another thread without the GIL and without sleeping: the thread team's hand-off.

A thread that sleeps on a queue or a condition variable is woken by the kernel, and on a virtual machine the
idle virtual CPU must first be woken by the host: a task handed to a sleeping worker and its result handed
back took 55-77 us (p25-p90, 2 vCPUs), and a training step of the reference network makes ~15 such calls.
A thread that spins on a flag sees it change within a few microseconds (4.2-4.7 us for the same round trip).

``until_changed(flag, seen, spins)`` is that spin: ``spins`` reads of ``flag[0]`` in a numba loop that has
released the GIL, each an atomic load with acquire ordering (a plain load could be hoisted out of the loop by
the compiler, which would then never see the change). ``spins_per_second()`` measures how many reads a
second make, once, so that callers can bound a spin in time.
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _load_acquire(typingctx, array):
    """``array[0]`` of an int64 array, read by an atomic load (acquire ordering)."""
    sig = types.int64(array)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.load_atomic(data, "acquire", 8)

    return sig, codegen


@njit(nogil=True, cache=True)
def until_changed(flag, seen, spins):
    """Whether ``flag[0] != seen`` within ``spins`` reads; ``flag`` an int64 array of one element."""
    for _ in range(spins):
        if _load_acquire(flag) != seen:
            return True
    return _load_acquire(flag) != seen


_rate: float | None = None


def spins_per_second() -> float:
    """Reads per second of ``until_changed`` on a flag that does not change (measured once, ~0.1 ms)."""
    global _rate
    if _rate is None:
        flag = np.zeros(1, np.int64)
        until_changed(flag, 0, 1)  # compiled (or loaded from numba's cache) before the timing
        spins = 1 << 17
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            until_changed(flag, 0, spins)
            best = min(best, time.perf_counter() - start)
        _rate = spins / max(best, 1e-9)
    return _rate
