"""Networks from a user's Python file: ``handgrad train --model FILE.py:FUNCTION``.

``FUNCTION(input_shape, num_classes)`` returns a ``Sequential`` for per-sample ``input_shape`` (a tuple such as
``(1, 28, 28)``) and ``num_classes`` outputs. A run copies the file into its directory as ``model.py`` and
records the copy's SHA-256 in every checkpoint; resuming and evaluating build the network from that copy, so
later edits of the original file cannot change a run's network (an edited copy is refused). The run keeps
this one file: it may import handgrad and installed packages, not modules that lie beside it.

Only the run's own copy ``<run>/model.py`` beside ``<run>/checkpoints/`` is ever imported, read once and checked
against the recorded SHA-256 before it runs: a checkpoint cannot name another file to run. Everything the user's
code raises while importing or building (``sys.exit`` included) is a one-line ``UserCodeError`` naming the
file:line (``handgrad.user_code``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from handgrad._atomic import atomic_write, open_regular, read_regular
from handgrad.errors import UserCodeError
from handgrad.user_code import call_user, import_file

COPY_NAME = "model.py"
MAX_SOURCE_BYTES = 16 * 2**20


def parse_spec(spec: str, flag: str = "--model") -> tuple[Path, str]:
    """``"path/to/file.py:function"`` -> ``(Path, "function")``; a malformed spec names ``flag``."""
    path, sep, name = str(spec).rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise ValueError(f"{flag} must look like path/to/file.py:function, got {spec!r}")
    return Path(path), name


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_spec(spec: str, flag: str = "--model") -> tuple[Path, str]:
    """Everything about ``spec`` that can be known without running it: its form, that the file exists, is a
    regular file and compiles. Called before a run directory is claimed."""
    path, name = parse_spec(spec, flag)
    if not path.exists():
        raise FileNotFoundError(f"{flag}: {path} does not exist")
    code = read_regular(path, MAX_SOURCE_BYTES, "Python file")
    try:
        compile(code, str(path), "exec")
    except SyntaxError as e:
        raise UserCodeError(f"{flag}: syntax error in {path}, line {e.lineno}: {' '.join(str(e.msg).split())}") \
            from e
    except ValueError as e:  # e.g. a NUL byte
        raise UserCodeError(f"{flag}: {path} is not Python source: {e}") from e
    return path, name


def load_function(path, name: str, flag: str = "--model", code: bytes | None = None):
    """The function ``name`` of the Python file ``path`` (``code``: its bytes, already read and checked),
    imported under a name of its own (``handgrad.user_code.import_file``)."""
    path = Path(path)
    try:
        module = import_file(path, flag, code)
    except UserCodeError as e:
        missing = e.__cause__.name if isinstance(e.__cause__, ModuleNotFoundError) else None
        beside = missing and any((path.parent / f"{missing.split('.')[0]}{s}").exists() for s in (".py", ""))
        if not beside:
            raise
        raise UserCodeError(f"{e}; a {flag} file may import handgrad and installed packages, not files beside it "
                            f"(the run keeps only its copy {COPY_NAME})") from e.__cause__
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"{flag}: {path} has no function {name!r}")
    return function


def build(path, name: str, input_shape, num_classes: int, flag: str = "--model", code: bytes | None = None):
    """``name(input_shape, num_classes)`` from ``path``, checked: a ``Sequential`` with that input shape and
    ``num_classes`` outputs. Whatever the function raises (``sys.exit`` included) is a ``UserCodeError``
    naming it and the file:line."""
    from handgrad.sequential import Sequential

    input_shape = tuple(int(d) for d in input_shape)
    where = f"{flag} {path}:{name}"
    function = load_function(path, name, flag, code)
    model = call_user(function, input_shape, num_classes, what=where, files=(str(path),))
    if not isinstance(model, Sequential):
        raise ValueError(f"{where} must return a handgrad Sequential, got {type(model).__name__}")
    if model.input_shape != input_shape:
        raise ValueError(f"{where} returned a model for input shape {model.input_shape}; the data set's images "
                         f"have shape {input_shape} (use the input_shape argument)")
    if model.num_classes != num_classes:
        raise ValueError(f"{where} returned a model with {model.num_classes} outputs; the data set has "
                         f"{num_classes} classes (use the num_classes argument)")
    return model


def record(spec: str, run_dir) -> dict:
    """Copy the file of ``spec`` into ``run_dir/model.py``; returns what checkpoints record about it."""
    path, name = check_spec(spec)
    run_dir = Path(run_dir)
    code = read_regular(path, MAX_SOURCE_BYTES, "Python file")
    atomic_write(run_dir / COPY_NAME, lambda f: f.write(code), inside=run_dir)
    return {"origin": str(spec), "file": COPY_NAME, "function": name, "sha256": hashlib.sha256(code).hexdigest()}


def build_recorded(run_dir, source: dict, input_shape, num_classes: int, as_origin: bool = False):
    """The network of a run from its own copy ``run_dir/model.py`` (never from a path ``source`` names), read
    once without following a link, refused when missing or when its SHA-256 is not the recorded one.
    ``as_origin``: name the original file in messages (the copy was just made from it, line for line)."""
    copy = Path(run_dir) / COPY_NAME
    if not copy.exists() and not copy.is_symlink():
        raise FileNotFoundError(f"the run was trained with --model {source['origin']}; its copy {copy} is missing")
    fd = open_regular(copy, os.O_RDONLY, inside=run_dir)
    with os.fdopen(fd, "rb") as f:
        code = f.read(MAX_SOURCE_BYTES + 1)
    if len(code) > MAX_SOURCE_BYTES or hashlib.sha256(code).hexdigest() != source["sha256"]:
        raise ValueError(f"{copy} changed since the run was trained with it (SHA-256 {source['sha256'][:12]}...); "
                         f"restore it, or start a new run")
    shown = parse_spec(source["origin"])[0] if as_origin else copy
    return build(shown, source["function"], input_shape, num_classes, code=code)
