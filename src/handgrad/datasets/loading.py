"""``load(name, split)``: find the files (or download them), read them, return float32 NCHW in [0, 1]."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handgrad.datasets import cifar, idx, locate, registry
from handgrad.datasets import download as _download
from handgrad.datasets.errors import DatasetError, DatasetFormatError, DatasetNotFoundError, DownloadError
from handgrad.datasets.locate import Located

# format -> module with find_split(directory, split) -> Located | None, read_split(Located) -> (x, y),
# and ACCEPTED: how the files may be stored, for the not-found message.
_FORMATS = {"idx": idx, "cifar": cifar}


def find(name: str, split: str, data_dir=None, download: bool = True, progress: bool = True) -> Located:
    """Locate split ``split`` of data set ``name``, downloading it if it is not found.

    With ``data_dir``, only that directory is used (never another one): the split is read from it, or, when it
    holds none of the split's files and ``download`` is True, downloaded into it (the directory is created if
    missing). It is an error, naming the directory, if ``data_dir`` is a file, if it holds only part of the split
    (e.g. the images but not the labels: a download would mix your files with the official ones), or if it lacks
    the split and ``download`` is False. Without ``data_dir``, the directories of ``locate`` are searched in
    order and downloads go to ``~/.cache/handgrad/<name>``.

    Args:
        name, split, data_dir, download: as in ``load``.
        progress: show a progress bar while downloading (default True).

    Raises:
        DatasetNotFoundError: not found, and ``download`` is False or the download failed; the message
            lists the searched directories, the file names to put there and where to get them. Also for a
            ``data_dir`` that is a file or holds part of the split.
        ChecksumError: a download did not have the published SHA-256.
    """
    spec = registry.get(name)
    registry.check_split(split)
    if not isinstance(download, bool):
        raise TypeError(f"datasets: download must be a bool, got {download!r} ({type(download).__name__})")
    fmt = _FORMATS[spec.format]
    if data_dir is not None:
        target = Path(data_dir).expanduser()
        if target.exists() and not target.is_dir():
            raise DatasetNotFoundError(f"data directory {target} (data_dir, --data-dir) is a file, not a directory")
        searched = [target]
    else:
        target = locate.cache_dir(name)
        searched = locate.candidate_dirs(name)
    for directory in searched:
        located = fmt.find_split(directory, split)
        if located is not None:
            return located
    if data_dir is not None:
        partial = fmt.partial_split(target, split)
        if partial is not None:
            present, missing = partial
            raise DatasetNotFoundError(f"data directory {target} (data_dir, --data-dir) holds {', '.join(present)} "
                                       f"but not {', '.join(missing)} of {spec.title}'s {split} split; add the "
                                       f"missing files, or point data_dir (--data-dir) at a directory holding all")
    if not download:
        reason = "download=False" + ("" if data_dir is None or target.exists() else f"; {target} does not exist")
        raise DatasetNotFoundError(not_found_message(spec, split, searched, reason))
    try:
        _download.download_missing(spec.files[split], target, progress=progress)
    except DownloadError as e:
        raise DatasetNotFoundError(not_found_message(spec, split, searched, f"the download failed: {e}")) from e
    located = fmt.find_split(target, split)
    if located is None:  # only if the registry's file names do not match what the format looks for
        raise DatasetNotFoundError(not_found_message(spec, split, searched, f"downloaded to {target} but the "
                                                     f"files expected there are still missing"))
    return located


def load(name: str, split: str, data_dir=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a data set.

    Args:
        name: ``"fashion-mnist"``, ``"mnist"`` or ``"cifar10"``.
        split: ``"train"`` or ``"test"``.
        data_dir: directory holding this data set's files, the only one used when given: read from, or
            downloaded into when it holds none of the split's files (see ``find``); default None: see ``locate``
            for the search order, downloads go to ``~/.cache/handgrad/<name>``.
        download: download the files from the official source if they are not found (default True).

    Shape:
        ``x``: float32 ``(N, C, H, W)`` with ``x = pixel / 255`` in [0, 1]; ``(N, 1, 28, 28)`` for the
        MNISTs, ``(N, 3, 32, 32)`` for CIFAR-10. ``y``: int64 ``(N,)`` in ``[0, num_classes)``.
    """
    spec = registry.get(name)
    located = find(name, split, data_dir=data_dir, download=download)
    where = ", ".join(str(p) for p in located.paths)
    try:
        x, y = _FORMATS[spec.format].read_split(located)
    except OSError as e:  # unreadable (permissions, I/O error): one line naming the file
        raise DatasetError(f"cannot read {e.filename or where}: {e.strerror or e}") from e
    if x.shape[1:] != spec.shape:
        raise DatasetFormatError(f"{where}: images have shape {x.shape[1:]}, expected {spec.shape} for {spec.title}")
    if y.size and (y.min() < 0 or y.max() >= spec.num_classes):
        raise DatasetFormatError(f"{where}: labels must lie in [0, {spec.num_classes}), found values from {y.min()} "
                                 f"to {y.max()}")
    x = x.astype(np.float32)
    x /= 255  # correctly rounded pixel / 255 in float32
    return x, y.astype(np.int64)


def not_found_message(spec: registry.DatasetSpec, split: str, searched, reason: str) -> str:
    """One paragraph: what is missing, why, where it was looked for, what to put where, how to get it."""
    files = [f.filename for f in spec.files[split]]
    urls = sorted({f.url for f in spec.files[split]})
    msg = (f"{spec.title} ({split} split) is not on this machine and was not downloaded ({reason}). "
           f"Searched, in order: {', '.join(str(d) for d in searched)}. "
           f"Put {' and '.join(files)} ({_FORMATS[spec.format].ACCEPTED}) in one of these directories, or in a "
           f"directory you pass as data_dir (--data-dir), or set {locate.ENV_VAR}=DIR and use DIR/{spec.name}; "
           f"get {'it' if len(files) == 1 else 'them'} from {', '.join(urls)} (see {spec.homepage}).")
    if spec.apt_package:
        msg += f" On Debian or Ubuntu: sudo apt-get install {spec.apt_package}"
        if spec.system_dirs:
            msg += f" (installs to {spec.system_dirs[0]})"
        msg += "."
    return msg
