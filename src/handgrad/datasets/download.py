"""Downloading a file: progress bar, SHA-256 check, atomic placement.

The bytes go to a temporary file in the destination directory while their SHA-256 is computed; only if
it matches the registry is the file moved into place with ``os.replace`` (atomic on one file system).
On any failure, a wrong checksum or an interruption, the temporary file is deleted: the destination
either holds the verified file or nothing.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

from handgrad.datasets.errors import ChecksumError, DatasetError, DownloadError
from handgrad.datasets.registry import FileSpec

_CHUNK = 1 << 20
TIMEOUT_S = 60.0  # per socket operation, not for the whole file
USER_AGENT = "handgrad-datasets/0.1 (Python urllib)"


def download(spec: FileSpec, directory, *, progress: bool = True, timeout: float = TIMEOUT_S) -> Path:
    """Download ``spec.url`` to ``directory / spec.filename`` and return that path.

    Args:
        spec: the file (URL, expected SHA-256, size for the progress bar).
        directory: created if missing.
        progress: show a tqdm progress bar on stderr (default True).
        timeout: seconds before a stalled connection fails (default 60).

    Raises:
        ChecksumError: the downloaded bytes do not have ``spec.sha256`` (nothing is left behind).
        DownloadError: no connection, timeout, HTTP error, or the directory cannot be written.
    """
    directory = Path(directory)
    dest = directory / spec.filename
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{spec.filename}.", suffix=".part")
    except OSError as e:
        raise DownloadError(f"cannot write to {directory} ({e})") from e
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(spec.url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else spec.size
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=spec.filename,
                          disable=not progress) as bar:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if actual != spec.sha256:
            raise ChecksumError(f"checksum mismatch for {spec.filename} downloaded from {spec.url}: expected sha256 "
                                f"{spec.sha256}, got {actual}; the file was deleted, not saved to {dest}")
        os.replace(tmp, dest)
    except DatasetError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:  # URLError and timeouts are OSErrors
        raise DownloadError(f"cannot download {spec.url} ({type(e).__name__}: {e})") from e
    finally:
        if os.path.exists(tmp):  # only after a failure: os.replace consumed it otherwise
            os.remove(tmp)
    return dest


def download_missing(specs, directory, *, progress: bool = True) -> list[Path]:
    """Download each file of ``specs`` that is not already in ``directory``; return the paths of all."""
    directory = Path(directory)
    paths = []
    for spec in specs:
        dest = directory / spec.filename
        paths.append(dest if dest.is_file() else download(spec, directory, progress=progress))
    return paths
