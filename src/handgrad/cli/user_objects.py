"""Import a user's class or function as the user's code has it, and build it with the user's arguments.

- ``path/to/pkg/module.py:Name``: when the file's directory holds an ``__init__.py``, the file is imported as
  part of its package (``pkg.module``), so that its relative imports work: the package root is found by
  walking up the directories that hold an ``__init__.py``, and the directory above it goes on ``sys.path``.
  A file outside any package is imported on its own, its directory on ``sys.path``.
- ``pkg.module:Name``: imported by name, the current directory on ``sys.path`` (as ``python -m`` does).
- ``--model-arg KEY=VALUE``: each value is a Python literal (``ast.literal_eval``: numbers, strings, tuples,
  lists, dicts, True/False/None), so ``hidden_dims=[100,100]`` and ``input_dim=(3,32,32)`` mean what they say.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from handgrad.errors import UserCodeError
from handgrad.user_code import call_user


class UserObjectError(Exception):
    """A one-line error naming the flag and what is wrong with its value."""


def package_module_name(file: Path) -> tuple[str, Path] | None:
    """``("pkg.sub.module", root_parent)`` when ``file`` lies in a package (its directory holds
    ``__init__.py``), else ``None``; ``root_parent`` is the directory that must be on ``sys.path``."""
    file = file.resolve()
    parts = [file.stem]
    directory = file.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return (".".join(parts), directory) if len(parts) > 1 else None


def _on_path(directory: Path) -> None:
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _exec_import(option: str, what: str, load):
    """``load()`` behind the user-code guard: a syntax error is a ``UserObjectError``; anything else the user's
    module raises while importing (``sys.exit`` included) a ``UserCodeError`` naming ``file:line``."""
    try:
        return call_user(load, what=f"{option}: importing {what}", files=(what,))
    except UserCodeError as e:
        cause = e.__cause__
        if isinstance(cause, SyntaxError):
            raise UserObjectError(f"{option}: syntax error in {cause.filename}, line {cause.lineno}: "
                                  f"{cause.msg}") from cause
        raise


def import_user_object(spec: str, option: str, kind: str):
    """``(object, module)`` for ``"path/to/file.py:name"`` or ``"pkg.module:name"``; ``kind`` names what is
    expected in messages ("function", "class or factory")."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name or not name.isidentifier():
        raise UserObjectError(f"{option} must look like path/to/file.py:{kind.split()[0]} or "
                              f"package.module:{kind.split()[0]}, got {spec!r}")
    looks_like_file = where.endswith(".py") or "/" in where or "\\" in where
    if looks_like_file:
        file = Path(where)
        if not file.is_file():
            raise UserObjectError(f"{option}: {file} does not exist")
        in_package = package_module_name(file)
        if in_package is not None:
            module_name, root = in_package
            _on_path(root)
            module = _exec_import(option, str(file), lambda: importlib.import_module(module_name))
        else:
            _on_path(file.resolve().parent)
            module_name = f"_handgrad_user_{file.stem}"
            module_spec = importlib.util.spec_from_file_location(module_name, file)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module  # dataclasses look their module up while a class is created

            def load():
                module_spec.loader.exec_module(module)
                return module
            module = _exec_import(option, str(file), load)
        label = str(file)
    else:
        if not all(part.isidentifier() for part in where.split(".")):
            raise UserObjectError(f"{option}: {where!r} is neither a file.py nor a module name like pkg.module")
        _on_path(Path.cwd())
        if importlib.util.find_spec(where.split(".")[0]) is None:
            raise UserObjectError(f"{option}: no module named {where.split('.')[0]!r} (run from the directory "
                                  f"that holds it, or give path/to/{where.replace('.', '/')}.py:{name})")
        module = _exec_import(option, where, lambda: importlib.import_module(where))
        label = where
    obj = getattr(module, name, None)
    if not callable(obj):
        raise UserObjectError(f"{option}: {label} has no {kind} {name!r}")
    return obj, module


def parse_model_args(items) -> dict:
    """``["hidden_dims=[6,5]", "reg=0.1"]`` -> ``{"hidden_dims": [6, 5], "reg": 0.1}``."""
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UserObjectError(f"--model-arg must look like KEY=VALUE (e.g. hidden_dim=7), got {item!r}")
        if key in out:
            raise UserObjectError(f"--model-arg {key} given twice")
        try:
            out[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise UserObjectError(f"--model-arg {item}: the value must be a Python literal (a number, a quoted "
                                  f"string, a tuple, a list, True/False/None), got {text!r}") from None
    return out


def constructor_parameters(factory) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return {}


def input_shape_default(factory) -> tuple[int, ...] | None:
    """The input shape a constructor's ``input_dim`` (or ``input_shape``) default describes, else ``None``:
    ``input_dim=(3, 32, 32)`` -> ``(3, 32, 32)``; ``input_dim=3 * 32 * 32`` -> ``(3072,)``."""
    parameters = constructor_parameters(factory)
    for name in ("input_dim", "input_shape"):
        p = parameters.get(name)
        if p is None or p.default is inspect.Parameter.empty:
            continue
        value = p.default
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return (value,)
        if isinstance(value, (tuple, list)) and value and all(isinstance(v, int) and v > 0 for v in value):
            return tuple(value)
    return None


def automatic_arguments(factory, input_shape, num_classes, seed) -> dict:
    """The keywords handgrad passes when the constructor takes them: ``input_dim`` (in the form of its default:
    an int for a flat input), ``input_shape``, ``num_classes`` and ``seed``."""
    parameters = constructor_parameters(factory)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    out = {}
    if "input_dim" in parameters:
        default = parameters["input_dim"].default
        flat = isinstance(default, int) and not isinstance(default, bool)
        size = 1
        for v in input_shape:
            size *= v
        out["input_dim"] = size if flat else tuple(input_shape)
    if "input_shape" in parameters or takes_any:
        out["input_shape"] = tuple(input_shape)
    if "num_classes" in parameters or takes_any:
        out["num_classes"] = num_classes
    if "seed" in parameters or takes_any:
        out["seed"] = seed
    return out
