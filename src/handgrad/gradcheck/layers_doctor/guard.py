"""Calling a user's layer code through the project-wide guard (``handgrad.user_code``): every exception
(``SystemExit`` included) becomes one ``UserCodeError`` line naming the function and the line of the user's
file where it was raised. NumPy's warnings are silenced: the checks judge the values, not the warnings.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from handgrad.errors import UserCodeError
from handgrad.user_code import call_user, code_file, import_file


def call(function, *args):
    """``function(*args)``; any exception it raises becomes a ``UserCodeError`` naming it and file:line."""
    name = getattr(function, "__name__", repr(function))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call_user(function, *args, what=name, files=tuple(f for f in (code_file(function),) if f))


def load(path) -> object:
    """Import the user's file ``path`` (its directory first on ``sys.path``, so that it can import its
    neighbours); a failure is a ``UserCodeError`` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserCodeError(f"--user-layers: {path} does not exist")
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_file(path, "--user-layers")
