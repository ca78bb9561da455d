"""Claiming a run directory: one process at a time, writable, and never silently replacing another run.

``claim_run_dir(run_dir, resume)`` is used as a context manager around a whole training run:

1. ``<run_dir>/`` and ``<run_dir>/checkpoints/`` are created, and a probe file is written in each, so that an
   ``--out-dir`` that is a file or not writable is an error before any data is loaded or any epoch trained;
2. ``<run_dir>/.lock`` is locked with ``fcntl.flock(LOCK_EX | LOCK_NB)`` and holds the owner's pid. The lock
   lives as long as the process holds the file open: it is released when the run ends, and by the kernel when
   the process dies, even by SIGKILL, so a stale lock file never blocks a later run. A second process gets
   ``RunDirError("run x is in use by pid N ...")``. The lock file itself stays (deleting it could let two
   processes lock two different files of the same name);
3. the state found is checked: a new run (``resume=False``) refuses a directory holding a checkpoint, or a
   ``config.json`` / ``history.json`` without one (an unfinished run, e.g. killed during its first checkpoint
   write): the error suggests ``--resume`` or another ``--name``;
4. stale temporary files of ``handgrad._atomic`` (``.<name>.*.tmp``, left by a process killed mid-write) are
   removed from ``<run_dir>`` and ``<run_dir>/checkpoints``: the lock guarantees nobody is writing them.

No link is followed out of the run directory: ``checkpoints/`` must be a real directory, ``.lock`` is opened
with ``O_NOFOLLOW`` and must be a regular file, a new run's directory must not be a symbolic link, and every
file of the run is written by ``handgrad._atomic.atomic_write(..., inside=run_dir)``.

If a run fails before training began (before ``config.json``, the last file a start writes) in a directory this
claim created, what it wrote there is removed again (``model.py``, ``config.sha256``, then the empty
directories): a typo in a flag or a ``--model`` function that raises leaves no half-made run behind to be
refused later as "unfinished". A run that stops later keeps its ``config.json``, so that ``--resume`` can
continue (or restart) it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from handgrad._atomic import check_dir, kind, open_regular

LOCK_NAME = ".lock"
# What a start writes before training begins (removed again when that start fails in a new directory), and
# config.json, written last, whose presence marks a run that began.
STARTED_FILES = ("model.py", "config.sha256")
RUN_FILES = ("config.json", "config.sha256", "model.py", "history.json", "history.csv", "metrics.json")
CHECKPOINTS = "checkpoints"  # the folder of a run's checkpoints; see checkpoint_path


def checkpoint_path(run_dir, which: str = "last") -> Path:
    """``run_dir/checkpoints/<which>.npz``: ``"last"`` (written every epoch) or ``"best"`` (lowest validation
    loss), the one spelling of a run's checkpoint paths."""
    return Path(run_dir) / CHECKPOINTS / f"{which}.npz"


class RunDirError(Exception):
    """A run directory cannot be used: in use by another process, already holds a run, or not writable."""


def _describe(e: OSError) -> str:
    return e.strerror or str(e)


def _check_out_dir(run_dir: Path) -> None:
    """The parent (``--out-dir``) must be a directory, or creatable as one."""
    for parent in (run_dir.parent, *run_dir.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise RunDirError(f"--out-dir: {parent} is a file, not a directory (run directory {run_dir})")
            return


def _make_writable_dirs(run_dir: Path, resume: bool) -> bool:
    """Create ``run_dir`` and its ``checkpoints/`` and prove both writable; True if ``run_dir`` was created."""
    _check_out_dir(run_dir)
    if not resume and run_dir.is_symlink():
        raise RunDirError(f"run directory {run_dir} is a symbolic link: a new run is written into a directory of its "
                          "own inside --out-dir, never through a link (choose another --name)")
    created = not run_dir.exists()
    for d in (run_dir, run_dir / CHECKPOINTS):
        try:
            d.mkdir(parents=True, exist_ok=True) if d == run_dir else check_dir(d, inside=run_dir)
            fd, probe = tempfile.mkstemp(dir=d, prefix=".write-probe.", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except FileExistsError:
            raise RunDirError(f"run directory {d} is a file, not a directory") from None
        except OSError as e:
            where = e.filename or d
            raise RunDirError(f"cannot write to the run directory {d} (--out-dir {run_dir.parent}): "
                              f"{where}: {_describe(e)}") from e
    return created


def _lock(run_dir: Path) -> int:
    """Open and lock ``run_dir/.lock``, write our pid into it; return the open descriptor."""
    path = run_dir / LOCK_NAME
    try:
        fd = open_regular(path, os.O_RDWR | os.O_CREAT)  # a planted link (.lock -> elsewhere) is refused
    except OSError as e:
        raise RunDirError(f"cannot create the lock file {path}: {_describe(e)}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(f"cannot lock {path}: {_describe(e)}") from e
        try:
            owner = path.read_text().strip() or "unknown"
        except OSError:
            owner = "unknown"
        raise RunDirError(f"run {run_dir.name} is in use by pid {owner} (lock file {path}); wait for it to "
                          f"finish or choose another --name") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _check_files(run_dir: Path) -> None:
    """Every file of the run that exists is a regular file (not a link, FIFO or device planted there)."""
    paths = [*(run_dir / name for name in RUN_FILES), *(checkpoint_path(run_dir, w) for w in ("last", "best"))]
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            raise RunDirError(f"{path} is {kind(mode)}, not a regular file: handgrad never writes through a link or "
                              f"into anything but its own files (remove it, or choose another --name)")


def _check_state(run_dir: Path, resume: bool) -> None:
    _check_files(run_dir)
    if resume:
        return
    if checkpoint_path(run_dir).exists():
        raise RunDirError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                          "or choose another --name")
    started = [n for n in ("config.json", "history.json") if (run_dir / n).exists()]
    if started:
        raise RunDirError(f"{run_dir} holds an unfinished run ({' and '.join(started)} but no checkpoint: it "
                          f"stopped before its first checkpoint was written); continue it with --resume {run_dir} "
                          "or choose another --name")


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete ``.*.tmp`` files (``handgrad._atomic``'s temporaries) in ``run_dir`` and its ``checkpoints/``.

    Only safe while holding the run's lock: then no process is writing them."""
    removed = []
    for d in (run_dir, run_dir / CHECKPOINTS):
        for path in sorted(d.glob(".*.tmp")):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def claim_run_dir(run_dir, resume: bool = False, echo=print):
    """Hold ``run_dir`` for the duration of the ``with`` block (see the module docstring); yields its Path.

    Raises:
        RunDirError: the directory is in use by another process, already holds a (possibly unfinished) run
            and ``resume`` is False, or it (or ``--out-dir``) is a file or not writable.
    """
    run_dir = Path(run_dir)
    created = _make_writable_dirs(run_dir, resume)
    fd = _lock(run_dir)
    try:
        _check_state(run_dir, resume)
        for path in remove_stale_temporaries(run_dir):
            echo(f"removed {path}, a temporary file left by a run that was stopped while writing")
        yield run_dir
    except BaseException:
        if created and not (run_dir / "config.json").exists():  # it failed before training began
            _remove_started(run_dir)
            _remove_empty(run_dir)
        raise
    finally:
        os.close(fd)


def _remove_started(run_dir: Path) -> None:
    """Remove what a failed first start wrote (``STARTED_FILES``); nothing else is touched."""
    for name in STARTED_FILES:
        with contextlib.suppress(OSError):
            (run_dir / name).unlink()


def _remove_empty(run_dir: Path) -> None:
    """Remove the lock file and the directories a failed claim created, if nothing else was written there."""
    with contextlib.suppress(OSError):
        (run_dir / LOCK_NAME).unlink()
        (run_dir / CHECKPOINTS).rmdir()
        run_dir.rmdir()
