"""Memory the fast kernels reuse: per-thread scratch, and a pool of recycled output buffers.

Buffer rule: an array handgrad hands out is never written again while anything references it. Large outputs
(``POOL_MIN_BYTES`` and up) come from a pool of recycled buffers (``empty``): a buffer is reused only when
its lease has ended: the array handed out is owned by a lease object that it and every array derived from
it (views, reshapes, slices) hold, so the lease ends when the last of them is gone, which a training loop
guarantees from one step to the next. Recycling spares the kernel from handing fresh pages out every step
(glibc returns freed large blocks to the system; with them the reference network's step took ~1,400 page
faults and ~5 ms of system time at batch 64); ``release_buffers()`` empties the pool. Private scratch
(``scratch``: one chunk's columns and their gradient) is reused across calls; it belongs to the thread that
uses it and never escapes.
"""
from __future__ import annotations

import math
import threading

import numpy as np

_scratch = threading.local()


def scratch(name: str, size: int, dtype) -> np.ndarray:
    """A 1-D scratch array of ``size`` elements, reused across calls, private to the calling thread."""
    pool = _scratch.__dict__.setdefault("pool", {})
    key = (name, np.dtype(dtype))
    buf = pool.get(key)
    if buf is None or buf.size < size:
        buf = pool[key] = np.empty(size, dtype=dtype)
    return buf[:size]


def scratch_array(name: str, shape, dtype) -> np.ndarray:
    """``scratch`` of ``shape``. ``math.prod``, not ``np.prod``: this runs with the GIL held at the start of
    every task (~3 us per ``np.prod`` of a tuple, while the other thread of the team waits for the GIL)."""
    return scratch(name, math.prod(shape), dtype).reshape(shape)


# Outputs of at least this many bytes come from the recycling pool; at most POOL_PER_SIZE buffers of one size
# and POOL_MAX_BYTES in all are kept (beyond that, plain allocations).
POOL_MIN_BYTES = 1 << 18
POOL_PER_SIZE = 4
POOL_MAX_BYTES = 1 << 30


class _Block:
    """One pooled buffer (a 1-D array) and whether a lease on it is alive."""

    __slots__ = ("array", "leased")

    def __init__(self, array: np.ndarray):
        self.array = array
        self.leased = False


class _Lease:
    """The owner of the memory of one array handed out: that array, and every view, reshape or slice derived
    from it, holds this object (NumPy's ``base`` chain ends at a non-array owner), so the lease ends only when
    the last of them is gone. Its end frees the block for the next ``empty``.

    Ending a lease is one attribute store, with no lock: it may run in any thread, at any point where the
    interpreter drops a reference, also while ``empty`` holds the pool's lock."""

    __slots__ = ("block", "__array_interface__")

    def __init__(self, block: _Block, shape):
        self.block = block
        block.leased = True
        self.__array_interface__ = {**block.array.__array_interface__, "shape": tuple(shape)}

    def __del__(self):
        self.block.leased = False


_pool: dict[tuple, list[_Block]] = {}
_pool_bytes = 0
_pool_lock = threading.Lock()


def empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, C-contiguous, recycled from the pool when a free buffer of that size exists.

    A pooled buffer is leased to the array returned (its owner is a ``_Lease``) and is free again only when
    that array and everything derived from it are gone; the first free buffer of the size is reused.
    """
    global _pool_bytes
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    size = math.prod(shape)
    if size * dtype.itemsize < POOL_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    with _pool_lock:
        blocks = _pool.setdefault((size, dtype), [])
        block = next((b for b in blocks if not b.leased), None)
        if block is None:
            if len(blocks) >= POOL_PER_SIZE or _pool_bytes + size * dtype.itemsize > POOL_MAX_BYTES:
                return np.empty(shape, dtype=dtype)
            block = _Block(np.empty(size, dtype=dtype))
            blocks.append(block)
            _pool_bytes += size * dtype.itemsize
        return np.asarray(_Lease(block, shape))


def unused(dtype, ndim: int) -> np.ndarray:
    """A stand-in for an array a numba task does not use: the type it expects (``ndim`` dimensions), no memory."""
    return np.empty((0,) * ndim, dtype)


def leased_buffers() -> int:
    """How many pooled buffers are leased now (held by an array handed out or one derived from it)."""
    with _pool_lock:
        return sum(b.leased for blocks in _pool.values() for b in blocks)


def release_buffers() -> None:
    """Drop the pool: buffers no longer in use go back to the system (leased ones when their lease ends)."""
    global _pool_bytes
    with _pool_lock:
        _pool.clear()
        _pool_bytes = 0
