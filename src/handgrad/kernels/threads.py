"""The thread team behind the fast kernels, and the single-threaded BLAS it needs.

The fast kernels split each layer's work into tasks (chunks of the batch); the team's threads take tasks
from a shared counter and run the whole pipeline on each (im2col, BLAS product, col2im, ...) with the numba
loops (which release the GIL) and a *single-threaded* BLAS. The calling thread is one of the team; the
others are workers that sleep on a queue between calls.

Why not numba's parallel loops plus a multi-threaded BLAS (measured on 2 Zen 3 cores): the two thread pools
alternate many times per training step, and each pool's idle threads hold the cores the other needs.
OpenBLAS's workers spin (yielding) for about 0.1 s after each product, which added ~0.2 ms to every numba
call that followed a product; and numba's OpenMP pool, when PyTorch's OpenMP runtime is loaded first (the
benchmark, or any process that imports torch), spins actively and cut training throughput from ~800 to
~190 images/s. One team with one BLAS thread per team thread has nothing to fight: conv2's forward and
backward took 12 + 24 ms at batch 64 with the team against 12 + 28 ms (alone) and 90 + 140 ms (torch
imported) with the two pools.

The BLAS thread count is process-wide, so ``single_threaded_blas()`` lowers it to 1 only while a fast kernel
runs and restores it afterwards. It controls the OpenBLAS that NumPy's wheels bundle (or a system
OpenBLAS found in the process); with another BLAS (MKL, Accelerate) the team runs a single thread and BLAS
keeps its own threads.

``set_num_threads(n)`` (or the environment variable ``HANDGRAD_NUM_THREADS``) sets the team size; the
default is the number of CPUs this process may run on.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import os
import queue
import threading

import numpy as np


# ---------------------------------------------------------------------------------------------- BLAS threads
def _openblas_candidates():
    """Paths of OpenBLAS libraries NumPy may use: its bundled copy, then any OpenBLAS mapped in this process."""
    root = os.path.dirname(np.__file__)
    paths = []
    for folder in (os.path.join(os.path.dirname(root), "numpy.libs"), os.path.join(root, ".dylibs")):
        paths += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            paths += sorted({line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1]})
    except OSError:
        pass
    return paths


def _find_openblas():
    """``(get_num_threads, set_num_threads)`` ctypes functions of NumPy's OpenBLAS, or None."""
    for path in _openblas_candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", "", "_64"):
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


_blas = _find_openblas()
_blas_state = threading.local()


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with BLAS on one thread (the team supplies the parallelism); restore the count after.

    Nested uses are free; a no-op when NumPy's BLAS cannot be controlled (then the team has one thread).
    """
    depth = getattr(_blas_state, "depth", 0)
    if _blas is None or depth:
        _blas_state.depth = depth + 1
        try:
            yield
        finally:
            _blas_state.depth = depth
        return
    get, put = _blas
    previous = get()
    if previous != 1:
        put(1)
    _blas_state.depth = 1
    try:
        yield
    finally:
        _blas_state.depth = 0
        if previous != 1:
            put(previous)


# ---------------------------------------------------------------------------------------------- the team
def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _threads_from_env() -> int:
    value = os.environ.get("HANDGRAD_NUM_THREADS", "").strip()
    if not value:
        return _available_cpus()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"HANDGRAD_NUM_THREADS must be a positive integer, got {value!r}")
    return int(value)


class _Team:
    """The calling thread plus ``size - 1`` daemon workers, each blocked on its own queue between tasks."""

    def __init__(self, size: int):
        self.size = size
        self.lock = threading.Lock()  # one task at a time; a second caller runs its task alone
        self.inboxes = [queue.SimpleQueue() for _ in range(size - 1)]
        self.done = queue.SimpleQueue()
        for i, inbox in enumerate(self.inboxes):
            threading.Thread(target=self._serve, args=(inbox,), name=f"handgrad-{i + 1}", daemon=True).start()

    def _serve(self, inbox):
        while True:
            work = inbox.get()
            if work is None:
                return
            fn, args = work
            del work  # hold no reference to the caller's arrays between tasks (buffers.empty recycles them)
            try:
                fn(*args)
                del fn, args
                self.done.put((True, None))
            except BaseException as error:  # handed to the caller, raised there
                del fn, args
                self.done.put((False, error))

    def close(self):
        for inbox in self.inboxes:
            inbox.put(None)

    def map(self, fn, parts) -> None:
        """``fn(*p)`` for each ``p`` in ``parts``: ``parts[0]`` on the calling thread, the others on the workers.

        Runs every part on the calling thread when the team is busy (another thread's call, or a nested one).
        Waits for all parts before returning or raising the first error.
        """
        if len(parts) == 1 or len(parts) > self.size or not self.lock.acquire(blocking=False):
            for p in parts:
                fn(*p)
            return
        try:
            for inbox, args in zip(self.inboxes, parts[1:]):
                inbox.put((fn, args))
            error = None
            try:
                fn(*parts[0])
            except BaseException as e:
                error = e
            for _ in parts[1:]:
                ok, value = self.done.get()
                if not ok and error is None:
                    error = value
            if error is not None:
                raise error
        finally:
            self.lock.release()


_size = _threads_from_env()
_team: _Team | None = None


def num_threads() -> int:
    """Threads the fast kernels use (1 when NumPy's BLAS threads cannot be controlled)."""
    return _size if _blas is not None else 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (the calling thread and ``n - 1`` workers) for the fast kernels from now on."""
    global _size, _team
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    if _team is not None and _team.size != n:
        _team.close()
        _team = None
    _size = n


def _get_team() -> _Team:
    global _team
    if _team is None:
        _team = _Team(num_threads())
    return _team


def _forget_team_in_child():
    global _team
    _team = None  # the workers did not survive the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_team_in_child)


def parallel_for(fn, n: int, grain: int) -> None:
    """Run ``fn(lo, hi)`` over ``range(n)`` in tasks of ``grain`` items, on the team, BLAS single-threaded.

    The team's threads take the tasks in order from a shared counter, so a thread slowed down (by another
    process on its core) takes fewer of them instead of holding everyone back. ``fn`` must only write to
    disjoint parts of shared arrays (its tasks' parts).
    """
    grain = max(1, grain)
    tasks = -(-n // grain)

    def work():
        with np.errstate(**errors):
            while (task := next(next_task)) < tasks:  # next() on a count is atomic under the GIL
                fn(task * grain, min(n, (task + 1) * grain))

    errors = np.geterr()  # NumPy's error handling is per thread: the workers follow the caller's
    next_task = itertools.count()
    with single_threaded_blas():
        _get_team().map(work, [()] * max(1, min(num_threads(), tasks)))


def grain_for(n: int, min_items: int, tasks_per_thread: int = 4) -> int:
    """Items per task: about ``tasks_per_thread`` tasks per thread (for balance), but at least ``min_items``."""
    return max(1, min_items, -(-n // (tasks_per_thread * num_threads())))
