"""Networks from a user's Python file: ``handgrad train --model FILE.py:FUNCTION``.

``FUNCTION(input_shape, num_classes)`` returns a ``Sequential`` for per-sample ``input_shape`` (a tuple such as
``(1, 28, 28)``) and ``num_classes`` outputs. A run copies the file into its directory as ``model.py`` and
records the copy's SHA-256 in every checkpoint; resuming and evaluating build the network from that copy, so
later edits of the original file cannot change a run's network (an edited copy is refused). The run keeps
this one file: it may import handgrad and installed packages, not modules that lie beside it.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from handgrad._atomic import atomic_write

COPY_NAME = "model.py"


def parse_spec(spec: str, flag: str = "--model") -> tuple[Path, str]:
    """``"path/to/file.py:function"`` -> ``(Path, "function")``; a malformed spec names ``flag``."""
    path, sep, name = str(spec).rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise ValueError(f"{flag} must look like path/to/file.py:function, got {spec!r}")
    return Path(path), name


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_function(path, name: str, flag: str = "--model"):
    """The function ``name`` of the Python file ``path`` (imported under a name of its own)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"handgrad_user_{sha256(path)[:16]}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"{flag}: {path} has no function {name!r}")
    return function


def build(path, name: str, input_shape, num_classes: int, flag: str = "--model"):
    """``name(input_shape, num_classes)`` from ``path``, checked: a ``Sequential`` with that input shape and
    ``num_classes`` outputs."""
    from handgrad.sequential import Sequential

    input_shape = tuple(int(d) for d in input_shape)
    model = load_function(path, name, flag)(input_shape, num_classes)
    where = f"{flag} {path}:{name}"
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
    path, name = parse_spec(spec)
    if not path.is_file():
        raise FileNotFoundError(f"--model: {path} does not exist")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    code = path.read_bytes()
    atomic_write(run_dir / COPY_NAME, lambda f: f.write(code))
    return {"origin": str(spec), "file": COPY_NAME, "function": name, "sha256": sha256(run_dir / COPY_NAME)}


def build_recorded(run_dir, source: dict, input_shape, num_classes: int):
    """The network of a run from its copy ``run_dir/model.py``, refused when the copy is missing or edited."""
    copy = Path(run_dir) / source["file"]
    if not copy.is_file():
        raise FileNotFoundError(f"the run was trained with --model {source['origin']}; its copy {copy} is missing")
    if sha256(copy) != source["sha256"]:
        raise ValueError(f"{copy} changed since the run was trained with it (SHA-256 {source['sha256'][:12]}...); "
                         f"restore it, or start a new run")
    return build(copy, source["function"], input_shape, num_classes)
