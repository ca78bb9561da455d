"""The IDX format of MNIST and Fashion-MNIST, gzipped or not.

An IDX file is a header followed by the array, row-major::

    bytes 0-1   0x00 0x00
    byte  2     element type (0x08: unsigned byte, the only one these data sets use)
    byte  3     number of dimensions D
    then D      big-endian uint32 sizes d_1 .. d_D
    then        d_1 * ... * d_D elements

Images: D = 3, ``(N, 28, 28)``; labels: D = 1, ``(N,)``. A file whose first two bytes are ``1f 8b`` is
gunzipped first, whatever its name.
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from handgrad.datasets.errors import DatasetFormatError
from handgrad.datasets.locate import Located

# split -> (images stem, labels stem); each is looked for as ``stem.gz`` then ``stem``.
STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

ACCEPTED = "gzipped or not"  # for messages: how the files may be stored
_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it is gzip data; DatasetFormatError naming the file if corrupt."""
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise DatasetFormatError(f"{path}: truncated or corrupt gzip data ({e})") from e
    return data


def parse_idx(data: bytes, source="<bytes>") -> np.ndarray:
    """Parse IDX bytes into a read-only uint8 array of the shape the header gives."""
    if len(data) < 4:
        raise DatasetFormatError(f"{source}: not an IDX file (only {len(data)} bytes, the header alone is 4+)")
    zero0, zero1, dtype_code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise DatasetFormatError(f"{source}: not an IDX file (magic number starts with bytes {zero0:#04x} "
                                 f"{zero1:#04x}, expected 0x00 0x00)")
    if dtype_code != _UBYTE:
        raise DatasetFormatError(f"{source}: IDX element type {dtype_code:#04x} is not supported, expected "
                                 f"{_UBYTE:#04x} (unsigned byte)")
    if ndim == 0:
        raise DatasetFormatError(f"{source}: IDX header declares 0 dimensions, expected at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{source}: truncated IDX header (needs {header} bytes for {ndim} dimensions, "
                                 f"file has {len(data)})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = math.prod(shape)  # exact: a corrupt header can declare sizes whose product overflows int64
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "has trailing bytes"
        raise DatasetFormatError(f"{source}: {what}: header says shape {shape}, i.e. {expected} bytes of data, "
                                 f"found {found}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a uint8 array; DatasetFormatError naming the file if bad."""
    return parse_idx(read_bytes(path), source=Path(path))


def _is_data_file(path: Path) -> bool:
    """A regular file, or a named pipe (data streamed by another process, read once like a file)."""
    return path.is_file() or path.is_fifo()


def find_split(directory: Path, split: str) -> Located | None:
    """The split's image and label files in ``directory`` (``stem.gz`` preferred over ``stem``), or None."""
    paths = []
    for stem in STEMS[split]:
        found = next((p for p in (directory / f"{stem}.gz", directory / stem) if _is_data_file(p)), None)
        if found is None:
            return None
        paths.append(found)
    return Located(directory, split, "idx", tuple(paths))


def partial_split(directory: Path, split: str) -> tuple[list[str], list[str]] | None:
    """``(present, missing)`` file names when ``directory`` holds some but not all of the split's files, else None.

    A missing file is named by its stem (``stem.gz`` and ``stem`` are both accepted).
    """
    present, missing = [], []
    for stem in STEMS[split]:
        found = next((p for p in (directory / f"{stem}.gz", directory / stem) if _is_data_file(p)), None)
        (present if found is not None else missing).append(found.name if found is not None else f"{stem}[.gz]")
    return (present, missing) if present and missing else None


def read_split(located: Located) -> tuple[np.ndarray, np.ndarray]:
    """Read images and labels.

    Shape:
        returns ``x`` uint8 ``(N, 1, H, W)`` and ``y`` uint8 ``(N,)``.
    """
    images_path, labels_path = located.paths
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DatasetFormatError(f"{images_path}: expected a 3-D IDX array (N, H, W) of images, got shape "
                                 f"{images.shape}")
    if labels.ndim != 1:
        raise DatasetFormatError(f"{labels_path}: expected a 1-D IDX array (N,) of labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DatasetFormatError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                                 f"{len(labels)} labels")
    return images[:, None], labels  # (N, 1, H, W): NCHW with one channel
