"""The errors a data set can raise; ``DatasetError`` catches them all (the CLI prints its message and exits 1)."""
from __future__ import annotations

import pickle


class DatasetError(Exception):
    """Base class: a data set could not be found, fetched or read."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No directory holds the files and they could not be downloaded; the message says where to put them."""


class DownloadError(DatasetError, OSError):
    """A download failed (offline, timeout, HTTP error, unwritable directory)."""


class ChecksumError(DatasetError, ValueError):
    """A file's SHA-256 is not the published one; the message names the file and both hashes."""


class DatasetFormatError(DatasetError, ValueError):
    """A file is truncated, corrupt or not in the expected format; the message names the file."""


class ForbiddenGlobalError(DatasetError, pickle.UnpicklingError):
    """A pickle names a global (``os.system``, ``builtins.eval``...) that ``safe_unpickle`` does not admit."""
