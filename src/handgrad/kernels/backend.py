"""Which kernels the layers run: the fast numba kernels (default) or the NumPy references.

The NumPy set (``handgrad.kernels.numpy``) holds the references: short, vectorized, obviously correct, and
what every fast kernel is tested against. The numba set (``handgrad.kernels.numba``) computes the same results
with fused, multi-threaded passes over channels-last memory and batch-chunked matrix products. Both kernel sets accept
float32 and float64 (the numba kernels are compiled lazily for each dtype and cached on disk), so gradient
checks in float64 run the very code that trains in float32.

Selection, in order of precedence:

- ``set_kernels("numpy")`` / ``set_kernels("numba")``, or the context manager ``using_kernels(name)``;
- the environment variable ``HANDGRAD_KERNELS`` (``numba`` or ``numpy``), read at import;
- default ``"numba"``.

When numba is selected but cannot be imported, the NumPy kernels run instead, with a one-time
``RuntimeWarning``; ``active()`` is the set that runs (a package with the interface of
``handgrad.kernels.numpy``), ``active_kernels()`` its name.
"""
from __future__ import annotations

import contextlib
import os
import warnings

CHOICES = ("numba", "numpy")


def _check(name) -> str:
    if name not in CHOICES:
        raise ValueError(f"kernels must be one of {CHOICES}, got {name!r}")
    return name


_env = os.environ.get("HANDGRAD_KERNELS", "numba").strip().lower() or "numba"
if _env not in CHOICES:
    warnings.warn(f"HANDGRAD_KERNELS must be one of {CHOICES}, got {_env!r}; using 'numba'", RuntimeWarning,
                  stacklevel=2)
    _env = "numba"
_requested = _env
_numba_set = None  # handgrad.kernels.numba once imported
_import_failed = False


def set_kernels(name: str) -> None:
    """Select ``"numba"`` (fast, the default) or ``"numpy"`` (the references) for every layer from now on."""
    global _requested
    _requested = _check(name)


def requested_kernels() -> str:
    """The kernel set asked for (``set_kernels`` or ``HANDGRAD_KERNELS``), whether or not numba imports."""
    return _requested


@contextlib.contextmanager
def using_kernels(name: str):
    """``with using_kernels("numpy"): ...`` runs the block with the given kernel set, then restores the previous."""
    global _requested
    previous, _requested = _requested, _check(name)
    try:
        yield
    finally:
        _requested = previous


def active():
    """The kernel set the layers, the optimizers and ``Sequential`` run now, never None: the package
    ``handgrad.kernels.numba`` when numba is selected and importable, else ``handgrad.kernels.numpy``."""
    global _numba_set, _import_failed
    if _requested == "numba" and not _import_failed:
        if _numba_set is None:
            try:
                from handgrad.kernels import numba as kernel_set
            except ImportError as error:  # numba missing or broken: the NumPy set still works
                _import_failed = True
                warnings.warn(f"handgrad: numba kernels unavailable ({error}); running the NumPy reference kernels "
                              "(slower). Install numba>=0.60 or set HANDGRAD_KERNELS=numpy to silence this.",
                              RuntimeWarning, stacklevel=3)
            else:
                _numba_set = kernel_set
        if _numba_set is not None:
            return _numba_set
    from handgrad.kernels import numpy as kernel_set
    return kernel_set


def active_kernels() -> str:
    """``"numba"`` or ``"numpy"``: the name of the kernel set the layers run now (``active().NAME``)."""
    return active().NAME
