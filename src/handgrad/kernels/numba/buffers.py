"""Memory the fast kernels reuse: per-thread scratch, and a pool of recycled output buffers.

Buffer rule: an array handgrad hands out is never written again while anything references it. Large outputs
(``POOL_MIN_BYTES`` and up) come from a pool of recycled buffers (``empty``): a buffer is reused only when
its reference count says that no array, view or cache refers to it any more, which a training loop
guarantees from one step to the next. Recycling spares the kernel from handing fresh pages out every step
(glibc returns freed large blocks to the system; with them the reference network's step took ~1,400 page
faults and ~5 ms of system time at batch 64); ``release_buffers()`` empties the pool. Private scratch
(``scratch``: one chunk's columns and their gradient) is reused across calls; it belongs to the thread that
uses it and never escapes.
"""
from __future__ import annotations

import math
import sys
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


# Outputs of at least this many bytes come from the recycling pool; at most POOL_PER_SIZE buffers of one size
# and POOL_MAX_BYTES in all are kept (beyond that, plain allocations).
POOL_MIN_BYTES = 1 << 18
POOL_PER_SIZE = 4
POOL_MAX_BYTES = 1 << 30
_pool: dict[tuple, list] = {}
_pool_bytes = 0
_pool_lock = threading.Lock()


def _references(buffers: list, i: int) -> int:
    """``sys.getrefcount`` of ``buffers[i]``, always measured by this one expression."""
    return sys.getrefcount(buffers[i])


# What ``_references`` reports for an array that nothing but its list refers to. The count includes the
# interpreter's own temporary references, which differ between versions (CPython 3.14 skips some that 3.13
# counted), so it is measured once, here, the same way the pool measures, instead of assumed to be 2.
_FREE = _references([np.empty(1)], 0)


def empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, C-contiguous, recycled from the pool when a free buffer of that size exists.

    A pooled buffer is free when only the pool refers to it: its reference count is the calibrated ``_FREE``
    (the pool's list entry plus the interpreter's temporaries). Every array handed out is a view of the pooled
    buffer, and so is every array derived from it, so while any of them is alive the buffer is in use.
    """
    global _pool_bytes
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize < POOL_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    with _pool_lock:
        buffers = _pool.setdefault((size, dtype), [])
        for i in range(len(buffers)):
            if _references(buffers, i) <= _FREE:
                return buffers[i].reshape(shape)
        if len(buffers) >= POOL_PER_SIZE or _pool_bytes + size * dtype.itemsize > POOL_MAX_BYTES:
            return np.empty(shape, dtype=dtype)
        buffers.append(np.empty(size, dtype=dtype))
        _pool_bytes += size * dtype.itemsize
        return buffers[-1].reshape(shape)


def release_buffers() -> None:
    """Drop the pool's references: buffers no longer in use go back to the system."""
    global _pool_bytes
    with _pool_lock:
        _pool.clear()
        _pool_bytes = 0
