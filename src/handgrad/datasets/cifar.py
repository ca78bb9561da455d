"""CIFAR-10 in either of its official encodings, from a directory or straight from the ``.tar.gz``.

Python version (``cifar-10-python.tar.gz`` -> ``cifar-10-batches-py/``): batches ``data_batch_1`` ..
``data_batch_5`` (train) and ``test_batch`` (test), each a Python 2 pickle of a dict with
``b"data"``: uint8 ``(N, 3072)`` and ``b"labels"``: a list of N ints. Read with ``safe_unpickle``,
never ``pickle.load``.

Binary version (``cifar-10-binary.tar.gz`` -> ``cifar-10-batches-bin/``): ``data_batch_1.bin`` ..
``data_batch_5.bin`` and ``test_batch.bin``, each N records of ``1 + 3072`` bytes: the label, then
the image.

In both, an image's 3072 bytes are the 1024 red values, then green, then blue, each a 32x32 image in
row-major order, so ``reshape(N, 3, 32, 32)`` is already NCHW. Archives are read in memory: nothing is
extracted to disk, so a member's path cannot escape anywhere.
"""
from __future__ import annotations

import posixpath
import tarfile
import zlib
from pathlib import Path

import numpy as np

from handgrad.datasets.errors import DatasetFormatError, ForbiddenGlobalError
from handgrad.datasets.locate import Located
from handgrad.datasets.safe_unpickle import safe_loads

C, H, W = 3, 32, 32
IMAGE_BYTES = C * H * W  # 3072
RECORD_BYTES = 1 + IMAGE_BYTES  # binary version: label byte + image

PY_DIR, PY_TAR = "cifar-10-batches-py", "cifar-10-python.tar.gz"
BIN_DIR, BIN_TAR = "cifar-10-batches-bin", "cifar-10-binary.tar.gz"
PY_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
BIN_BATCHES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}

# For messages: how the files may be stored.
ACCEPTED = (f"or the {PY_DIR}/ folder extracted from it, or the binary version {BIN_TAR} or its {BIN_DIR}/ "
            f"folder")
# A real batch is 30 MiB; refuse members far larger instead of reading them into memory.
_MAX_MEMBER_BYTES = 256 * 2**20


def find_split(directory: Path, split: str) -> Located | None:
    """The split's files in ``directory``, or None.

    Looked for, in order: ``cifar-10-batches-py/`` (or the batches directly in ``directory``),
    ``cifar-10-python.tar.gz``, ``cifar-10-batches-bin/`` (or the ``.bin`` batches directly),
    ``cifar-10-binary.tar.gz``.
    """
    for folder, tar, batches, kind in ((PY_DIR, PY_TAR, PY_BATCHES, "python"), (BIN_DIR, BIN_TAR, BIN_BATCHES,
                                                                                "binary")):
        for d in (directory / folder, directory):
            paths = tuple(d / b for b in batches[split])
            if all(p.is_file() for p in paths):
                return Located(directory, split, f"cifar-{kind}-dir", paths)
        if (directory / tar).is_file():
            return Located(directory, split, f"cifar-{kind}-tar", (directory / tar,))
    return None


def partial_split(directory: Path, split: str) -> tuple[list[str], list[str]] | None:
    """``(present, missing)`` batch paths (relative to ``directory``) when a folder holds some but not all of the
    split's batches of one encoding, else None."""
    for folder, batches in ((PY_DIR, PY_BATCHES), (BIN_DIR, BIN_BATCHES)):
        for d in (directory / folder, directory):
            names = [str((d / b).relative_to(directory)) for b in batches[split]]
            here = [n for n in names if (directory / n).is_file()]
            if here and len(here) < len(names):
                return here, [n for n in names if n not in here]
    return None


def read_split(located: Located) -> tuple[np.ndarray, np.ndarray]:
    """Read a located split.

    Shape:
        returns ``x`` uint8 ``(N, 3, 32, 32)`` and ``y`` int64 ``(N,)``, batches concatenated in order.
    """
    kind = located.layout.split("-")[1]  # "python" or "binary"
    batches = (PY_BATCHES if kind == "python" else BIN_BATCHES)[located.split]
    if located.layout.endswith("-tar"):
        archive = located.paths[0]
        members = read_tar_members(archive, PY_DIR if kind == "python" else BIN_DIR, batches)
        blobs = [(f"{archive}:{name}", members[name]) for name in batches]
    else:
        blobs = [(p, p.read_bytes()) for p in located.paths]
    parse = parse_python_batch if kind == "python" else parse_binary_batch
    parts = [parse(data, source) for source, data in blobs]
    x = np.concatenate([p[0] for p in parts]).reshape(-1, C, H, W)  # (N, 3072) -> (N, C, H, W)
    y = np.concatenate([p[1] for p in parts])
    return x, y


def read_tar_members(archive: Path, folder: str, names) -> dict[str, bytes]:
    """The bytes of ``folder/<name>`` for each name, read from a (gzipped) tar archive in memory."""
    wanted = {f"{folder}/{n}": n for n in names}
    with open(archive, "rb") as raw:  # outside the try: an unreadable file is not a corrupt archive
        return _read_members(raw, archive, wanted)


def _read_members(raw, archive: Path, wanted: dict[str, str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=raw, mode="r:*") as tar:
            for member in tar:
                name = wanted.get(posixpath.normpath(member.name))
                if name is None or not member.isfile():
                    continue
                if member.size > _MAX_MEMBER_BYTES:
                    raise DatasetFormatError(f"{archive}: member {member.name} is {member.size} bytes, more than "
                                             f"the {_MAX_MEMBER_BYTES} a CIFAR-10 batch can be")
                found[name] = tar.extractfile(member).read()
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DatasetFormatError(f"{archive}: truncated or corrupt archive ({e})") from e
    missing = [m for m, n in wanted.items() if n not in found]
    if missing:
        raise DatasetFormatError(f"{archive}: archive has no member {', '.join(missing)}")
    return found


def parse_python_batch(data: bytes, source) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 3072) uint8, labels (N,) int64)`` from one pickled batch of the Python version."""
    try:
        batch = safe_loads(data, source=str(source), encoding="bytes")
    except ForbiddenGlobalError:
        raise
    except Exception as e:  # a truncated pickle raises EOFError, ValueError, struct.error...
        raise DatasetFormatError(f"{source}: truncated or corrupt pickle ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict):
        raise DatasetFormatError(f"{source}: expected a pickled dict, got {type(batch).__name__}")
    images = _get(batch, "data", source)
    labels = _get(batch, "labels", source)
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
            and images.shape[1] == IMAGE_BYTES):
        got = (f"{images.dtype} array of shape {images.shape}" if isinstance(images, np.ndarray)
               else type(images).__name__)
        raise DatasetFormatError(f"{source}: b'data' must be a uint8 array of shape (N, {IMAGE_BYTES}), got {got}")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError) as e:
        raise DatasetFormatError(f"{source}: b'labels' is not a list of integers ({e})") from e
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetFormatError(f"{source}: b'labels' must be {len(images)} integers (one per image), got "
                                 f"{labels.dtype} array of shape {labels.shape}")
    return images, labels.astype(np.int64)


def _get(batch: dict, key: str, source):
    # Python 2 pickles read with encoding="bytes" have bytes keys; pickles written by Python 3 have str keys.
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise DatasetFormatError(f"{source}: batch dict has no key b'{key}' (keys: {sorted(map(repr, batch))})")


def parse_binary_batch(data: bytes, source) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 3072) uint8, labels (N,) int64)`` from one batch of the binary version."""
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DatasetFormatError(f"{source}: size {len(data)} bytes is not a positive multiple of the "
                                 f"{RECORD_BYTES}-byte record (1 label byte + {IMAGE_BYTES} pixel bytes); truncated?")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)  # (N, 1 + 3072)
    return records[:, 1:], records[:, 0].astype(np.int64)
