"""Where a data set's files are looked for, and what was found there.

Search order (first directory that holds the split wins):

1. ``data_dir``, when given;
2. ``$HANDGRAD_DATA/<name>``, when the variable is set;
3. ``~/.cache/handgrad/<name>`` (also where downloads go when no ``data_dir`` is given);
4. the directories an operating-system package installs the data set to (``spec.system_dirs``:
   ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST, none for the others).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from handgrad.datasets import registry

ENV_VAR = "HANDGRAD_DATA"


@dataclass(frozen=True)
class Located:
    """A split found on disk.

    Args:
        directory: the searched directory it was found in.
        split: ``"train"`` or ``"test"``.
        layout: how the files are stored, format-specific (``"idx"``, ``"cifar-python-dir"``,
            ``"cifar-python-tar"``, ``"cifar-binary-dir"``, ``"cifar-binary-tar"``).
        paths: the files to read, in reading order (an archive is one path).
    """

    directory: Path
    split: str
    layout: str
    paths: tuple[Path, ...]


def cache_dir(name: str) -> Path:
    """``~/.cache/handgrad/<name>``: the default download directory."""
    return Path.home() / ".cache" / "handgrad" / name


def candidate_dirs(name: str, data_dir=None) -> list[Path]:
    """The directories searched for data set ``name``, in order (see the module docstring).

    Directories that do not exist are listed too: the list is also what an error message reports.
    """
    spec = registry.get(name)
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(Path(env).expanduser() / name)
    dirs.append(cache_dir(name))
    dirs.extend(Path(d) for d in spec.system_dirs)
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique
