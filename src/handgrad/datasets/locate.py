"""Where a data set's files are looked for, and what was found there.

A ``data_dir`` given by the caller (``--data-dir``) is the only directory used: it is never one step of a
search that could fall back to another copy (see ``loading.find``). Without it, the search order is (first
directory that holds the split wins):

1. ``$HANDGRAD_DATA/<name>``, when the variable is set;
2. ``~/.cache/handgrad/<name>`` (also where downloads go);
3. the directories an operating-system package installs the data set to (``spec.system_dirs``:
   ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST, none for the others).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from handgrad.datasets import registry
from handgrad.datasets.errors import DatasetNotFoundError

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
    """The directories used for data set ``name``, in order (see the module docstring): ``[data_dir]`` alone
    when it is given.

    Directories that do not exist are listed too: the list is also what an error message reports.
    """
    spec = registry.get(name)
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    dirs = []
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


def existing_data_dir(data_dir, what: str = "--data-dir") -> Path:
    """``data_dir`` as a ``Path`` if it is an existing directory; DatasetNotFoundError naming it (and ``what``,
    where it came from) otherwise. A training run or an evaluation checks its data directory with this: a typo
    must be an error, not the start of a download into a new directory."""
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"data directory {path} ({what}) does not exist")
    if not path.is_dir():
        raise DatasetNotFoundError(f"data directory {path} ({what}) is a file, not a directory")
    return path
