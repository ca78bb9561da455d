"""A pickle reader that cannot run code: only containers, strings, numbers and NumPy arrays come out.

``pickle.load`` calls whatever global a file names (``os.system``, ``builtins.eval``), so it must never
see a downloaded file. ``RestrictedUnpickler.find_class`` admits exactly the globals a pickled NumPy
array needs and refuses every other one with a ``ForbiddenGlobalError`` (an ``UnpicklingError``) naming
it, before anything is called.

Admitted globals:

- ``numpy.core.multiarray._reconstruct`` (NumPy 1 name; the CIFAR-10 files) and
  ``numpy._core.multiarray._reconstruct`` (NumPy 2 name): create an empty array of a given subtype;
- ``numpy.ndarray`` (the only admitted subtype) and ``numpy.dtype``;
- ``_codecs.encode``, which Python 3 protocol-2 pickles use for ``bytes``; only with the latin-1 codec.

Plain containers, ``str``/``bytes``, numbers, ``True``/``False``/``None`` need no global.
"""
from __future__ import annotations

import codecs
import io
import pickle

import numpy as np

from handgrad.datasets.errors import ForbiddenGlobalError


def _reconstruct():
    # NumPy 2 moved numpy.core to numpy._core; importing the old name warns, so resolve the new one first.
    try:
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class _Latin1Encode:
    """``_codecs.encode`` restricted to what pickle emits for bytes: ``encode(text, "latin1")``.

    A slotted instance rather than a function: pickle's BUILD opcode can set attributes on what it is
    given (``__defaults__`` of a function); it cannot set any on this object.
    """

    __slots__ = ()

    def __call__(self, obj, encoding="utf-8", errors="strict"):
        if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
            raise ForbiddenGlobalError(f"forbidden call _codecs.encode(<{type(obj).__name__}>, {encoding!r}, "
                                         f"{errors!r}): only encode(str, 'latin1') is allowed")
        return codecs.encode(obj, "latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): _Latin1Encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only the globals listed in the module docstring."""

    def __init__(self, file, *, source="<pickle>", encoding="bytes"):
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module, name):
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise ForbiddenGlobalError(f"{self.source}: refusing to load forbidden global {module}.{name} "
                                         f"(only NumPy arrays and plain containers are allowed)")
        return factory()

    def persistent_load(self, pid):
        raise ForbiddenGlobalError(f"{self.source}: refusing persistent id {pid!r}")


def safe_loads(data: bytes, *, source="<pickle>", encoding="bytes"):
    """Unpickle ``data`` with ``RestrictedUnpickler``.

    Args:
        data: the pickle bytes.
        source: a name for error messages (the file or archive member).
        encoding: how Python 2 ``str`` objects are decoded; ``"bytes"`` (default) keeps them as bytes,
            which is how the CIFAR-10 batches must be read (their dict keys are ``b"data"``, ``b"labels"``).
    """
    return RestrictedUnpickler(io.BytesIO(data), source=source, encoding=encoding).load()
