"""The user's own code, run behind one guard: ``--model FILE.py:FN`` and ``gradcheck --user-module/--user-model``.

Whatever the user's code does, handgrad ends with its own verdict:

- ``call_user(fn, *args, what=..., **kwargs)`` calls ``fn``; every exception it raises becomes a
  ``UserCodeError`` naming ``what`` and the user's ``file:line``, **including** ``SystemExit`` (a
  ``sys.exit(0)`` in a loss must not exit 0 as if the gradients were right) and a ``KeyboardInterrupt`` the
  user's code raised itself. A real Ctrl-C (SIGINT while the call runs) stays a ``KeyboardInterrupt``: while
  the call runs, SIGINT sets a flag before it raises, which is how the two are told apart;
- ``import_file(path, flag)`` imports one Python file under a module name of its own (``code``: the bytes to
  run, e.g. a checksummed copy read once, so that what runs is what was checked); a syntax error, an
  exception or a ``sys.exit`` while importing is a ``UserCodeError`` naming ``flag`` and ``file:line``.

``file:line`` is the innermost frame of the traceback that lies in the user's file (else the innermost frame
outside handgrad and the Python installation; else the function's ``def`` line, e.g. when the call itself
fails because the function takes other arguments). The user's exception is kept as ``__cause__``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import signal
import sys
import sysconfig
import threading
import traceback
from pathlib import Path

from handgrad.errors import UserCodeError

_HANDGRAD_DIR = str(Path(__file__).resolve().parent)
_PATHS = sysconfig.get_paths()
_SYSTEM_DIRS = tuple({str(Path(p).resolve()) for p in (_PATHS["stdlib"], _PATHS["purelib"], _PATHS["platlib"],
                                                     sys.prefix, sys.base_prefix)})


def code_file(fn) -> str | None:
    """The file ``fn`` (a function, bound method or callable object) is defined in, if Python knows it."""
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        code = getattr(vars(type(fn)).get("__call__"), "__code__", None)
    return code.co_filename if code is not None else None


def _definition(fn) -> str | None:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else None


def location(error: BaseException, fn=None, files=()) -> str | None:
    """``"path/to/my_net.py:12"``: where in the user's code ``error`` was raised (see the module docstring)."""
    if isinstance(error, SyntaxError) and error.filename and error.filename != "<string>":
        return f"{error.filename}:{error.lineno}"
    files = {str(f) for f in files} | ({code_file(fn)} if fn is not None else set())
    files = {f for f in files if f and not str(Path(f).resolve()).startswith(_HANDGRAD_DIR)}  # handgrad's wrappers
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if frame.filename in files:
            return f"{frame.filename}:{frame.lineno}"
    for frame in reversed(frames):
        name = str(Path(frame.filename).resolve()) if not frame.filename.startswith("<") else frame.filename
        if not name.startswith("<") and not name.startswith(_HANDGRAD_DIR) and not name.startswith(_SYSTEM_DIRS):
            return f"{frame.filename}:{frame.lineno}"
    where = _definition(fn) if fn is not None else None
    return where if where and not str(Path(where.rpartition(":")[0]).resolve()).startswith(_HANDGRAD_DIR) else None


def _what_happened(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r}) instead of returning"
    message = str(error)
    if isinstance(error, KeyError) and error.args:
        message = str(error.args[0])
    return f"raised {type(error).__name__}: {message}" if message else f"raised {type(error).__name__}"


def user_error(what: str, error: BaseException, fn=None, files=()) -> UserCodeError:
    """The ``UserCodeError`` for ``error`` raised by the user's code ``what`` (one line; cause kept by the caller)."""
    where = location(error, fn, files)
    text = " ".join(f"{what} {_what_happened(error)}".split())  # one line, whatever the user's message holds
    return UserCodeError(f"{text} (at {where})" if where else text)


class _SigintWatch:
    """While active (main thread, default SIGINT handler): a real SIGINT sets ``real`` before raising
    ``KeyboardInterrupt``, so that one raised by the user's code can be told from Ctrl-C."""

    def __enter__(self):
        self.real, self.previous, self.known = False, None, False
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self.previous, self.known = previous, True
                signal.signal(signal.SIGINT, self._handler)
            elif previous == signal.SIG_IGN:  # Ctrl-C cannot raise: any KeyboardInterrupt is the user's
                self.known = True
        return self

    def _handler(self, signum, frame):
        self.real = True
        raise KeyboardInterrupt

    def user_raised(self, error: BaseException) -> bool:
        return not isinstance(error, KeyboardInterrupt) or (self.known and not self.real)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def call_user(fn, *args, what: str, files=(), **kwargs):
    """``fn(*args, **kwargs)``; anything it raises (``SystemExit`` included) is a ``UserCodeError`` naming
    ``what`` and the user's file:line. ``UserCodeError`` itself (a nested guard) passes through unchanged."""
    with _SigintWatch() as watch:
        try:
            return fn(*args, **kwargs)
        except UserCodeError:
            raise
        except BaseException as e:  # the user's code: every way out of it is reported as one line
            if not watch.user_raised(e):
                raise
            raise user_error(what, e, fn, files) from e


def import_file(path, flag: str, code: bytes | None = None):
    """Import the Python file ``path`` (its text ``code``, read from ``path`` when None) as a module named after
    its contents' SHA-256, registered in ``sys.modules`` while it runs (dataclasses look their module up)."""
    path = Path(path)
    if code is None:
        if not path.is_file():
            raise FileNotFoundError(f"{flag}: {path} does not exist")
        code = path.read_bytes()
    name = f"handgrad_user_{hashlib.sha256(code).hexdigest()[:16]}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[name] = module
    with _SigintWatch() as watch:
        try:
            exec(compile(code, str(path), "exec"), module.__dict__)
        except SyntaxError as e:
            sys.modules.pop(name, None)
            detail = " ".join(str(e.msg).split())
            raise UserCodeError(f"{flag}: syntax error in {path}, line {e.lineno}: {detail}") from e
        except BaseException as e:
            sys.modules.pop(name, None)
            if not watch.user_raised(e):
                raise
            raise user_error(f"{flag}: importing {path}", e, files=(str(path),)) from e
    return module


__all__ = ["UserCodeError", "call_user", "import_file", "location", "user_error"]
