"""The thread team behind the fast kernels, and the single-threaded BLAS it needs.

The fast kernels split each layer's work into tasks (chunks of the batch); the team's threads take tasks
from a shared counter and run the whole pipeline on each (im2col, BLAS product, col2im, ...) with the numba
loops (which release the GIL) and a *single-threaded* BLAS. The calling thread is one of the team; the
others are workers. Between calls a worker spins without the GIL for ``SPIN_SECONDS`` (``spin_wait``), then
sleeps on a queue; the caller waits for their results the same way. A hand-off to a sleeping thread and back
took 55-77 us on a 2-core VM, against 4-5 us to a spinning one, ~15 times a training step: spinning made
the reference network's step 4-8 % faster in one process (batch 64, docs/kernel-measurements.md). A team
with more threads than this process has CPUs never spins.

Why not numba's parallel loops plus a multi-threaded BLAS (measured on 2 Zen 3 cores): the two thread pools
alternate many times per training step, and each pool's idle threads hold the cores the other needs.
OpenBLAS's workers spin (yielding) for about 0.1 s after each product, which added ~0.2 ms to every numba
call that followed a product; and numba's OpenMP pool, when PyTorch's OpenMP runtime is loaded first (the
benchmark, or any process that imports torch), spins actively and cut training throughput from ~800 to
~190 images/s. One team with one BLAS thread per team thread has nothing to fight: conv2's forward and
backward took 12 + 24 ms at batch 64 with the team against 12 + 28 ms (alone) and 90 + 140 ms (torch
imported) with the two pools.

BLAS threads are controlled through threadpoolctl, whatever NumPy was built with (OpenBLAS, MKL, BLIS): the
count is process-wide, so ``single_threaded_blas()`` lowers it to 1 while at least one fast kernel runs (in
any thread) and restores it when the last one ends. OpenBLAS built on OpenMP keeps one count per thread:
there the team's workers set their own count to 1 once, for good. When threadpoolctl finds no BLAS it can
control (Apple's Accelerate, a NumPy without BLAS), the team runs a single thread and BLAS keeps its own.

``set_num_threads(n)`` (or the environment variable ``HANDGRAD_NUM_THREADS``) sets the team size; the
default is the number of CPUs this process may run on.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

import numpy as np
from threadpoolctl import ThreadpoolController

# ---------------------------------------------------------------------------------------------- BLAS threads
_blas: tuple | None = None  # (process-wide controllers, per-thread controllers), found on first use


def _per_thread(lib) -> bool:
    """OpenBLAS on OpenMP keeps one thread count per calling thread; the other BLAS builds, one per process."""
    return lib.internal_api == "openblas" and getattr(lib, "threading_layer", None) == "openmp"


def _blas_split() -> tuple:
    global _blas
    if _blas is None:
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
        _blas = (tuple(lib for lib in libs if not _per_thread(lib)), tuple(lib for lib in libs if _per_thread(lib)))
    return _blas


def blas_libraries() -> tuple:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (NumPy's among them).

    Found once (a scan of the loaded libraries costs milliseconds) and cached: ``single_threaded_blas`` runs
    around every kernel call. Empty when threadpoolctl knows none of them.
    """
    shared, own = _blas_split()
    return shared + own


def _set_blas_threads(lib, n: int) -> None:
    # threadpoolctl 3.6 and later let only one thread set a process-wide OpenBLAS count (the first to set
    # it, until it lets go) and silently ignore the others; its unguarded setter is ``_real_set_num_threads``.
    # Kernels run from any thread and set counts under our own lock, so they use that setter where it exists
    # (taking and releasing control around each call instead cost ~10 us per call, measured).
    getattr(lib, "_real_set_num_threads", lib.set_num_threads)(n)


def _lower_to_one(libs) -> tuple:
    """Set each library's count to 1; returns the ``(library, count)`` pairs to restore."""
    saved = []
    for lib in libs:
        n = lib.get_num_threads()
        if isinstance(n, int) and n != 1:
            _set_blas_threads(lib, 1)
            saved.append((lib, n))
    return tuple(saved)


class _SingleThreadedBlas:
    """The context manager behind ``single_threaded_blas()``.

    Process-wide counts (OpenBLAS on pthreads, MKL, BLIS): the first kernel to enter, in any thread, saves
    them and sets them to 1; the last to leave restores them, so a kernel never has the count restored
    under it by another thread's exit. Per-thread counts (OpenBLAS on OpenMP): each thread lowers and
    restores its own. Cost per kernel call, measured on a shared 2-core machine: ~5 us when BLAS already runs
    1 thread, ~11 us otherwise (a lock, then threadpoolctl's get and two sets through ctypes).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0  # kernels inside the block, all threads together
        self.saved = ()  # process-wide (library, count) pairs to restore when the last one leaves
        self.local = threading.local()  # .depth, .saved: the per-thread counts of this thread

    def __enter__(self):
        shared, own = _blas_split()
        if own:
            depth = getattr(self.local, "depth", 0)
            if depth == 0:
                self.local.saved = _lower_to_one(own)
            self.local.depth = depth + 1
        if shared:
            with self.lock:
                if self.running == 0:
                    self.saved = _lower_to_one(shared)
                self.running += 1
        return self

    def __exit__(self, *exc):
        shared, own = _blas_split()
        if shared:
            with self.lock:
                self.running -= 1
                if self.running == 0:
                    for lib, n in self.saved:
                        _set_blas_threads(lib, n)
                    self.saved = ()
        if own:
            self.local.depth -= 1
            if self.local.depth == 0:
                for lib, n in self.local.saved:
                    lib.set_num_threads(n)
        return False


_single_threaded_blas = _SingleThreadedBlas()


def single_threaded_blas() -> _SingleThreadedBlas:
    """``with single_threaded_blas():`` runs the block with BLAS on one thread (the team supplies the
    parallelism); the counts are restored when the last such block ends, in any thread. Nested and
    concurrent uses are cheap; a no-op when threadpoolctl finds no BLAS it can control."""
    return _single_threaded_blas


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


threads_from_env = _threads_from_env  # public: checked before a run directory is claimed (training.run)


# How long a thread of the team spins for the next hand-off before it sleeps (``_Signal``): a training step's
# calls come within a few hundred microseconds of each other. 0 makes every wait sleep at once.
SPIN_SECONDS = 2e-3


class _Signal:
    """A count one thread raises and another waits to see change (the team's hand-offs).

    The waiter spins without the GIL (``spin_wait.until_changed``) for ``spins`` reads, then sleeps on a
    queue; ``raise_`` wakes a sleeper. ``_gate`` orders the two: a waiter decides to sleep, and a raiser
    decides to wake it, while holding it, so no raise is missed and no wake-up is left over.
    """

    def __init__(self, spins: int):
        self.count = np.zeros(1, np.int64)
        self.spins = spins
        self._until_changed = _spin_wait().until_changed if spins else None
        self._gate = threading.Lock()
        self._sleeping = False
        self._wake = queue.SimpleQueue()

    def raise_(self) -> None:
        with self._gate:
            self.count[0] += 1
            if self._sleeping:
                self._sleeping = False
                self._wake.put(None)

    def wait(self, seen: int) -> int:
        """Wait until the count is no longer ``seen``; returns the new count."""
        if not (self.spins and self._until_changed(self.count, seen, self.spins)):
            with self._gate:
                sleep = self._sleeping = int(self.count[0]) == seen
            if sleep:
                self._wake.get()
        return int(self.count[0])


def _spin_wait():
    """``handgrad.kernels.spin_wait``, or None without numba (this module is shared by both kernel sets)."""
    try:
        from handgrad.kernels import spin_wait
    except ImportError:
        return None
    return spin_wait


def _spins(size: int) -> int:
    """Reads per spin for a team of ``size`` threads: none when it has more threads than this process has CPUs
    (a spinning thread would hold the core the thread it waits for needs), or without numba."""
    spin_wait = _spin_wait()
    if SPIN_SECONDS <= 0 or size > _available_cpus() or spin_wait is None:
        return 0
    return max(1, int(SPIN_SECONDS * spin_wait.spins_per_second()))


class _Team:
    """The calling thread plus ``size - 1`` daemon workers, each waiting on its own ``_Signal`` between tasks.

    A hand-off: the caller puts ``(fn, args)`` in the worker's mailbox and raises its ``posted`` signal; the
    worker runs it, puts ``(ok, error)`` in its mailbox and raises ``finished``, which the caller waits for.
    """

    def __init__(self, size: int):
        self.size = size
        self.lock = threading.Lock()  # one task at a time; a second caller runs its task alone
        spins = _spins(size)
        self.posted = [_Signal(spins) for _ in range(size - 1)]
        self.finished = [_Signal(spins) for _ in range(size - 1)]
        self.mail: list = [None] * (size - 1)  # a worker's next (fn, args), then its (ok, error)
        self.seen = [0] * (size - 1)  # the caller's last seen count of each worker's ``finished``
        for i in range(size - 1):
            threading.Thread(target=self._serve, args=(i,), name=f"handgrad-{i + 1}", daemon=True).start()

    def _serve(self, i: int):
        for lib in _blas_split()[1]:  # per-thread counts: set once, the workers run nothing but kernels
            lib.set_num_threads(1)
        seen = 0
        while True:
            seen = self.posted[i].wait(seen)
            work, self.mail[i] = self.mail[i], None
            if work is None:
                return
            fn, args = work
            del work  # hold no reference to the caller's arrays between tasks (buffers.empty recycles them)
            try:
                fn(*args)
                result = (True, None)
            except BaseException as error:  # handed to the caller, raised there
                result = (False, error)
            del fn, args
            self.mail[i] = result
            del result
            self.finished[i].raise_()

    def close(self):
        for i in range(self.size - 1):
            self.mail[i] = None
            self.posted[i].raise_()

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
            workers = range(len(parts) - 1)
            for i in workers:
                self.mail[i] = (fn, parts[i + 1])
                self.posted[i].raise_()
            error = None
            try:
                fn(*parts[0])
            except BaseException as e:
                error = e
            for i in workers:
                self.seen[i] = self.finished[i].wait(self.seen[i])
                (ok, value), self.mail[i] = self.mail[i], None
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
    return _size if blas_libraries() else 1


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
    _single_threaded_blas.lock = threading.Lock()  # a thread that held it did not survive either


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
