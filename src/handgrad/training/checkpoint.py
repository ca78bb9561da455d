"""Checkpoints: one ``.npz`` file read with ``allow_pickle=False`` (no code runs when loading it).

Layout of the archive:

- ``param/<layer>.<param>``: every parameter;
- ``state/<layer>.<name>``: every layer's state (``Sequential.states()``: moving statistics, dropout
  generator words);
- ``optim/<key>``: the optimizer's ``state_dict()`` (flat arrays);
- ``ema/<layer>.<param>``: the moving average of the weights (``--ema``; ``last.npz`` only);
- ``meta``: a JSON string with ``epoch`` (completed epochs), ``config``, ``history`` and anything the caller
  adds (e.g. normalization statistics); ``training.runfiles`` checks it against its schema.

Reading never trusts the file: it must be a regular, non-empty ``.npz`` (zip) archive; every member's ``.npy``
header is read first and the array it declares must be exactly as large as the member holds, with a plain
numeric or string dtype, so that a forged header (``shape (2**60,)``) is refused before anything is allocated.
"""
from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handgrad._atomic import atomic_write, kind
from handgrad.errors import RunFileError

NPY_MAGIC = b"\x93NUMPY"


@dataclass
class Checkpoint:
    params: dict
    optimizer_state: dict
    meta: dict
    state: dict = field(default_factory=dict)
    ema: dict = field(default_factory=dict)

    @property
    def model_state(self) -> dict:
        """Parameters and layer state together, for ``Sequential.load_state_dict``."""
        return {**self.params, **self.state}

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])


def save_checkpoint(path, params: dict, optimizer_state: dict, meta: dict, state: dict | None = None,
                    inside=None, ema: dict | None = None) -> Path:
    """Write the checkpoint atomically (see ``handgrad._atomic``); ``state``: the model's layer states; ``inside``:
    the run directory it belongs to (no link below it is followed); ``ema``: moving averages of the weights."""
    arrays = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    arrays.update({f"state/{k}": np.asarray(v) for k, v in (state or {}).items()})
    arrays.update({f"ema/{k}": np.asarray(v) for k, v in (ema or {}).items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in optimizer_state.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_write(path, lambda f: np.savez(f, **arrays), inside=inside)


def _damaged(path, reason: str) -> RunFileError:
    return RunFileError(f"checkpoint {path} is not a handgrad checkpoint or is damaged: {reason}")


def check_archive(path) -> None:
    """Refuse anything but a ``.npz`` whose members are ``.npy`` arrays of the size their headers declare."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise RunFileError(f"checkpoint {path} is {kind(st.st_mode)}, not a regular file")
    if st.st_size == 0:
        raise _damaged(path, "the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
        if head == NPY_MAGIC:
            raise _damaged(path, "it is a single .npy array, not a .npz archive of arrays")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as archive:
                for info in archive.infolist():
                    _check_member(path, archive, info)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
            raise _damaged(path, f"not a .npz (zip) archive ({e})") from None


def _check_member(path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    key = info.filename.removesuffix(".npy")
    if not info.filename.endswith(".npy"):
        raise _damaged(path, f"member {info.filename!r} is not a .npy array")
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
        except (ValueError, EOFError, OSError) as e:
            raise _damaged(path, f"array {key!r} has no valid .npy header ({e})") from None
        header = member.tell()
    if dtype.hasobject or dtype.kind not in "biufcU":
        raise _damaged(path, f"array {key!r} has dtype {dtype}, not a number or string type")
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any declared shape
    if declared != info.file_size - header:
        raise _damaged(path, f"array {key!r} declares shape {shape} of {dtype} ({declared:,} bytes) but holds "
                             f"{info.file_size - header:,} bytes")


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; a missing or damaged file gives a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            params = {k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")}
            optimizer_state = {k[len("optim/"):]: data[k] for k in data.files if k.startswith("optim/")}
            state = {k[len("state/"):]: data[k] for k in data.files if k.startswith("state/")}
            ema = {k[len("ema/"):]: data[k] for k in data.files if k.startswith("ema/")}
            if "meta" not in data.files:
                raise KeyError("it has no 'meta' array")
            meta_array = data["meta"]
            if meta_array.shape != () or meta_array.dtype.kind != "U":
                raise ValueError(f"its 'meta' array is {meta_array.dtype} of shape {meta_array.shape}, not a string")
            meta = json.loads(str(meta_array))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise _damaged(path, message) from e
    return Checkpoint(params, optimizer_state, meta, state, ema)


def check_finite(path, ckpt: Checkpoint, optimizer: bool = False) -> None:
    """RunFileError naming the first parameter (or layer state, or optimizer state) with NaN or infinite entries."""
    groups = [("parameter", ckpt.params), ("layer state", ckpt.state), ("EMA weight", ckpt.ema)]
    groups += [("optimizer state", ckpt.optimizer_state)] if optimizer else []
    for what, arrays in groups:
        for key, value in arrays.items():
            if not np.issubdtype(np.asarray(value).dtype, np.number):
                continue
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            if bad:
                raise RunFileError(f"checkpoint {path}: {what} {key} has {bad} non-finite (NaN or infinite) values "
                                   f"of {np.size(value)}; the run diverged before this checkpoint, or the file was "
                                   "edited: use an earlier one (best.npz)")


def restore_model(model, ckpt: Checkpoint, path) -> None:
    """Load the parameters and layer states of ``ckpt`` (read from ``path``) into ``model``; a checkpoint of
    another network is a ``ValueError`` naming the file and the keys that differ."""
    try:
        model.load_state_dict(ckpt.model_state)
    except KeyError as e:
        older = not ckpt.state and model.states()
        hint = " (it holds no layer state: written by an older handgrad?)" if older else ""
        raise RunFileError(f"checkpoint {path} does not fit this model{hint}: {e.args[0]}") from e
