"""argparse helpers: flags generated from a dataclass's fields, and one-line errors."""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``handgrad train: error: ... (see --help)``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _base_type(annotation):
    """``float | None`` -> ``float``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, only=None) -> None:
    """One flag per field (or per field named in ``only``): ``weight_l2`` -> ``--weight-l2``. Defaults are left
    out of the namespace (``argparse.SUPPRESS``) so that callers can tell which flags were given."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        kind = _base_type(hints[f.name])
        help_text = f"{f.metadata.get('help', '')} (default: {f.default})"
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            parser.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if "choices" not in kwargs:
            kwargs["metavar"] = f.metadata.get("metavar", kind.__name__.upper())
        parser.add_argument(flag(f.name), type=kind, **kwargs)
