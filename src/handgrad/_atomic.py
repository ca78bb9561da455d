"""Files handgrad writes and reads: atomic writes that never follow a link, reads of regular files only.

``atomic_write(path, write, inside=None)`` writes a temporary file ``.<name>.<random>.tmp`` in the destination's
directory, fsyncs it, then renames it over ``path``. A reader (or a run killed mid-write) sees either the old
file or the complete new one, never a half-written file; a failed write leaves no temporary file behind.
It never writes through a link:

- the directory is opened once and everything happens relative to its descriptor (``dir_fd``);
- with ``inside`` (a run directory), each directory between ``inside`` and ``path`` is opened with
  ``O_NOFOLLOW`` (and created if missing): a symbolic link planted in a run directory (``checkpoints ->
  /elsewhere``) is refused, never followed out of it;
- an existing ``path`` must be a regular file: a symbolic link, a device, a FIFO or a directory (``--json
  /dev/stdout``, even as root) is refused, not replaced;
- the temporary file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (mode ``0o666`` less the umask) and the
  rename replaces the directory entry itself, so nothing outside the directory is ever opened for writing.

``open_regular(path, flags, inside)`` opens one file without following a link (the run's ``.lock``), and
``read_regular(path, limit)`` reads a file that must be regular and at most ``limit`` bytes. Refusals are
``RunFileError`` naming the path and what it is.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from handgrad.errors import RunFileError

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def kind(mode: int) -> str:
    """``"a symbolic link"``, ``"a character device"``, ... for a ``st_mode``; ``"a regular file"`` otherwise."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file")


def _refuse(path, mode: int, action: str) -> RunFileError:
    return RunFileError(f"{path} is {kind(mode)}, not a regular file: refusing to {action} it")


def _open_dir(directory: Path, inside) -> int:
    """A descriptor of ``directory``; with ``inside``, every component below ``inside`` is a real directory."""
    if inside is None:
        directory.mkdir(parents=True, exist_ok=True)
        return os.open(directory, _DIR_FLAGS)
    inside = Path(inside)
    parts = directory.relative_to(inside).parts  # ValueError: a caller's bug (a run file outside its run)
    fd = os.open(inside, _DIR_FLAGS)
    here = inside
    try:
        for part in parts:
            here = here / part
            try:
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                raise RunFileError(f"{here} is {kind(mode)}, not a directory: handgrad never writes through a link "
                                   f"or outside the run directory {inside}") from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_dir(directory, inside) -> None:
    """Refuse ``directory`` (below ``inside``, created if missing) if any component is a link or not a directory."""
    os.close(_open_dir(Path(directory), inside))


def _check_target(fd: int, name: str, path) -> None:
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode, "replace")


def atomic_write(path, write, mode: str = "wb", inside=None) -> Path:
    """Call ``write(file_object)`` on a temporary file and move it to ``path`` atomically (see the module
    docstring); ``inside``: the run directory ``path`` lies in (no link below it is followed)."""
    path = Path(path)
    fd = _open_dir(path.parent, inside)
    try:
        _check_target(fd, path.name, path)
        tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
        tmp_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=fd)
        try:
            with os.fdopen(tmp_fd, mode) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path.name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        os.close(fd)
    return path


def atomic_write_text(path, text: str, inside=None) -> Path:
    return atomic_write(path, lambda f: f.write(text), mode="w", inside=inside)


def open_regular(path, flags: int, inside=None, file_mode: int = 0o644) -> int:
    """``os.open(path, flags | O_NOFOLLOW | O_NONBLOCK)`` relative to its directory (checked like
    ``atomic_write``'s); a link or anything but a regular file is a ``RunFileError``."""
    path = Path(path)
    fd = _open_dir(path.parent, inside) if inside is not None else os.open(path.parent, _DIR_FLAGS)
    try:
        try:
            file_fd = os.open(path.name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, file_mode, dir_fd=fd)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            raise _refuse(path, stat.S_IFLNK, "follow") from None
    finally:
        os.close(fd)
    mode = os.fstat(file_fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(file_fd)
        raise _refuse(path, mode, "use")
    return file_fd


def read_regular(path, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``, which must be a regular file (links to one are fine) of at most ``limit`` bytes."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, st.st_mode, "read")
        if st.st_size > limit:
            raise RunFileError(f"{path} is {st.st_size:,} bytes, more than a {what} can be ({limit:,} bytes): it is "
                               "not one written by handgrad")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)
