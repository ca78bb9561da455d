"""SHA-256 of files, and checking a file against its ``FileSpec``."""
from __future__ import annotations

import gzip
import hashlib
import zlib

from handgrad.datasets.errors import ChecksumError, DatasetFormatError
from handgrad.datasets.registry import FileSpec

_CHUNK = 1 << 20


def sha256_file(path) -> str:
    """Hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_content(path) -> str:
    """Hex SHA-256 of the file's bytes after gunzipping them if the file is gzip data."""
    h = hashlib.sha256()
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetFormatError(f"{path}: truncated or corrupt gzip data ({e})") from e
    return h.hexdigest()


def verify(path, spec: FileSpec) -> str:
    """Check ``path`` holds the official data of ``spec``; return how it matched, raise ChecksumError if not.

    A file matches if its own SHA-256 is ``spec.sha256`` (the official download) or, when the spec has a
    ``content_sha256``, if its decompressed bytes hash to it (a re-gzipped or un-gzipped copy).
    """
    actual = sha256_file(path)
    if actual == spec.sha256:
        return "sha256 of the official file"
    if spec.content_sha256 is not None:
        content = sha256_content(path)
        if content == spec.content_sha256:
            return "sha256 of the official decompressed data"
        raise ChecksumError(f"{path}: checksum mismatch for {spec.filename}: expected sha256 {spec.sha256} (file) or "
                            f"{spec.content_sha256} (decompressed), got {actual} (file) and {content} (decompressed)")
    raise ChecksumError(f"{path}: checksum mismatch for {spec.filename}: expected sha256 {spec.sha256}, got {actual}")
