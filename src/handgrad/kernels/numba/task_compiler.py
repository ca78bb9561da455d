"""Numba task functions compiled per configuration from a template, cached on disk by the sources they call.

A task of the fast kernels runs a chunk pipeline in one numba call (``winograd_chunks``, ``im2col_chunks``):
it calls loops compiled per channel count (``winograd_loops8``) and NumPy's BLAS (``blas.matmul``). Numba's
disk cache cannot key such a function when it is a closure over other numba functions (its key pickles the
closure's cells, and a numba function pickles with a fresh identifier each process: every process compiled
it again), and it never notices a change in a file other than the function's own. So a template is a
closure over plain values only (``constants``: ints, the sources' hash), and the functions it calls are
bound as its globals: the cache key holds the constants, which determine those functions, and the hash of
every source file the task runs (``source_hash``), so editing any of them compiles it again.
"""
from __future__ import annotations

import functools
import hashlib
import types

from numba import njit


@functools.cache
def source_hash(*modules) -> str:
    """SHA-256 of the source files of ``modules`` (read once per process): a constant of every task template
    that calls them."""
    digest = hashlib.sha256()
    for module in modules:
        with open(module.__file__, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def compile_task(template, functions: dict, **constants):
    """``template(**constants)``, a closure over ``constants``, compiled (``nogil``, cached on disk) with
    ``functions`` added to its module's globals (the names its body calls)."""
    closure = template(**constants)
    env = dict(closure.__globals__, **functions)
    fn = types.FunctionType(closure.__code__, env, closure.__name__, closure.__defaults__, closure.__closure__)
    fn.__qualname__ = closure.__qualname__
    fn.__module__ = closure.__module__
    return njit(nogil=True, cache=True)(fn)
