"""The optional packages of ``handgrad.export``, imported when a function needs them, never at import time.

A missing one is a ``MissingExtraError`` (an ``ImportError``) whose one-line message names the extra that
installs it: ``pip install 'handgrad[onnx]'`` (onnx, onnxruntime) or ``pip install 'handgrad[torch]'``.
"""
from __future__ import annotations

import importlib

from handgrad.errors import MissingExtraError

EXTRAS = {"onnx": "onnx", "onnxruntime": "onnx", "torch": "torch"}  # package -> the extra that installs it


def require(package: str, purpose: str):
    """The imported ``package``, or a ``MissingExtraError`` saying what needs it and how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as e:
        extra = EXTRAS[package]
        raise MissingExtraError(f"{purpose} needs the package {package}, which is not installed or cannot be "
                                f"imported ({e}); install it with: pip install 'handgrad[{extra}]'") from e
