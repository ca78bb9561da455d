"""Calling a user's layer code: every exception (``SystemExit`` included) becomes one ``UserCodeError`` line
naming the function and the line of the user's file where it was raised.

A local stand-in for the project-wide guard (``handgrad.user_code``) until that lands; only ``call`` and
``load`` are used by the rest of the layers doctor.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
import warnings
from pathlib import Path

from handgrad.gradcheck.targets import UserCodeError


def where(error: BaseException, file: str | None) -> str:
    """``layers.py:57``: the innermost frame of the traceback in ``file`` (else the innermost frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, SyntaxError) and error.filename:
        return f"{Path(error.filename).name}:{error.lineno}"
    mine = [f for f in frames if file is not None and Path(f.filename) == Path(file)]
    frame = (mine or frames or [None])[-1]
    return "?" if frame is None else f"{Path(frame.filename).name}:{frame.lineno}"


def call(function, *args):
    """``function(*args)``, with NumPy's warnings silenced; any exception becomes a ``UserCodeError``."""
    code = getattr(function, "__code__", None)
    file = code.co_filename if code is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the user's code: SystemExit and all, reported as one line
        name = getattr(function, "__name__", repr(function))
        message = str(e).splitlines()[0] if str(e) else ""
        raise UserCodeError(f"{name} raised {type(e).__name__}{': ' + message if message else ''} "
                            f"({where(e, file)})") from e


def load(path) -> object:
    """Import the user's file ``path`` under a name of its own (its directory first on ``sys.path``, so that
    it can import its neighbours); a failure is a ``UserCodeError`` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserCodeError(f"--user-layers: {path} does not exist")
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = f"_handgrad_user_layers_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the user's module: anything it raises while importing is reported
        del sys.modules[name]
        message = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, SyntaxError):
            message = e.msg
        raise UserCodeError(f"importing {path} raised {type(e).__name__}{': ' + message if message else ''} "
                            f"({where(e, str(path))})") from e
    return module
