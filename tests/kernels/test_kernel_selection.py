"""Choosing the kernel set, running without numba, and the thread team."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import handgrad as hg
from handgrad.kernels import backend, threads
from handgrad.kernels import numpy as kernels_numpy

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": SRC, **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=300)


def test_set_kernels_and_using_kernels():
    outside = backend.requested_kernels()
    with backend.using_kernels("numba"):
        assert backend.requested_kernels() == "numba" and backend.active_kernels() == "numba"
        with backend.using_kernels("numpy"):
            assert backend.active_kernels() == "numpy" and backend.active() is kernels_numpy
        assert backend.active_kernels() == "numba"
        backend.set_kernels("numpy")
        assert backend.active_kernels() == "numpy"
    assert backend.requested_kernels() == outside
    with pytest.raises(ValueError, match=r"kernels must be one of \('numba', 'numpy'\), got 'cuda'"):
        backend.set_kernels("cuda")


SAME_LOSS = """
    import warnings, numpy as np
    warnings.simplefilter("always")
    from handgrad.models import reference_cnn
    from handgrad.kernels import backend
    model = reference_cnn(input_shape=(1, 8, 8), activity_l2=1e-2, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8))
    terms, grads = model.loss(x, np.array([1, 2, 3]))
    print(backend.active_kernels(), "numba" in __import__("sys").modules, repr(terms.total))
"""


def test_environment_variable_selects_the_numpy_kernels_without_importing_numba():
    out = run_python(SAME_LOSS, HANDGRAD_KERNELS="numpy")
    assert out.returncode == 0, out.stderr
    kernels, numba_imported, total = out.stdout.split()
    assert (kernels, numba_imported) == ("numpy", "False")
    reference = hg.models.reference_cnn(input_shape=(1, 8, 8), activity_l2=1e-2, dtype=np.float64)
    with backend.using_kernels("numpy"):
        expected = reference.loss(np.random.default_rng(0).standard_normal((3, 1, 8, 8)), np.array([1, 2, 3]))[0]
    assert float(total) == expected.total


def test_without_numba_the_numpy_kernels_run_after_one_warning():
    code = "import sys; sys.modules['numba'] = None  # numba is not installed\n" + textwrap.dedent(SAME_LOSS) + \
           "model.loss(x, np.array([1, 2, 3]))  # a second pass warns no more\n"
    out = run_python(code, HANDGRAD_KERNELS="numba")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["numpy", "True"]  # sys.modules holds the None placeholder
    assert out.stderr.count("numba kernels unavailable") == 1
    assert "running the NumPy reference kernels" in out.stderr


def test_bad_environment_values_are_reported():
    out = run_python("import handgrad.kernels.backend as b; print(b.requested_kernels())", HANDGRAD_KERNELS="gpu")
    assert out.returncode == 0 and out.stdout.strip() == "numba"
    assert "HANDGRAD_KERNELS must be one of ('numba', 'numpy'), got 'gpu'" in out.stderr
    out = run_python("import handgrad.kernels.threads", HANDGRAD_NUM_THREADS="two")
    assert out.returncode != 0 and "HANDGRAD_NUM_THREADS must be a positive integer, got 'two'" in out.stderr


def test_thread_count_changes_nothing_but_speed(rng):
    model = hg.models.reference_cnn(input_shape=(3, 10, 10), weight_l2=1e-3, dtype=np.float64)
    x, y = rng.standard_normal((6, 3, 10, 10)), np.arange(6)
    before = threads.num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            threads.set_num_threads(n)
            results.append({k: g.copy() for k, g in model.loss(x, y)[1].items()})
    finally:
        threads.set_num_threads(before)
    for other in results[1:]:
        for k, g in results[0].items():
            np.testing.assert_allclose(other[k], g, rtol=1e-12, atol=1e-15, err_msg=k)
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive integer, got 0"):
        threads.set_num_threads(0)


def test_tasks_are_shared_out_and_worker_errors_reach_the_caller():
    before = threads.num_threads()
    try:
        threads.set_num_threads(2)
        seen = []
        threads.parallel_for(lambda lo, hi: seen.append((lo, hi)), 10, 3)
        assert sorted(seen) == [(0, 3), (3, 6), (6, 9), (9, 10)]

        def fail_on_the_third_task(lo, hi):
            if lo == 6:
                raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            threads.parallel_for(fail_on_the_third_task, 10, 3)
        threads.parallel_for(lambda lo, hi: seen.append(lo), 0, 3)
        assert len(seen) == 4  # no task for n = 0
    finally:
        threads.set_num_threads(before)


def two_threads_or_skip():
    """Set the team to 2 threads; skip where it cannot have them (the BLAS threads are not controllable)."""
    threads.set_num_threads(2)
    if threads.num_threads() < 2:
        pytest.skip("threadpoolctl finds no BLAS it can control in this process: the fast kernels run one thread")


def blas_counts() -> dict:
    """The oracle: threadpoolctl's own report of each BLAS library's thread count."""
    return {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_workers_follow_the_callers_numpy_error_handling():
    """``np.errstate`` is per thread: a kernel must not warn, raise or stay silent where NumPy's would not."""
    before = threads.num_threads()
    try:
        two_threads_or_skip()
        seen = []

        def record(lo, hi):
            meet.wait()  # each task waits for one on the other thread: both threads run tasks (4 each)
            seen.append((np.geterr()["over"], threading.get_ident()))

        for mode in ("raise", "ignore"):
            meet = threading.Barrier(2, timeout=60)  # a broken barrier fails the test instead of hanging it
            seen.clear()
            with np.errstate(over=mode):
                threads.parallel_for(record, 8, 1)
            assert [m for m, _ in seen] == [mode] * 8
            assert len({who for _, who in seen}) == 2
    finally:
        threads.set_num_threads(before)


def test_blas_is_single_threaded_inside_the_kernels_and_restored_after():
    if not threads.blas_libraries():
        pytest.skip("threadpoolctl finds no BLAS it can control in this process")
    before = threads.num_threads()
    try:
        two_threads_or_skip()
        with threadpool_limits(limits=2, user_api="blas"):  # a count other than 1 outside, where the CPUs allow
            outside = blas_counts()
            inside = []

            def task(lo, hi):
                meet.wait()  # both team threads are inside at once
                inside.append(blas_counts())
                with threads.single_threaded_blas():  # nested: still 1
                    inside.append(blas_counts())

            meet = threading.Barrier(2, timeout=60)
            threads.parallel_for(task, 2, 1)
            assert inside == [{path: 1 for path in outside}] * 4
            assert blas_counts() == outside

            def fail(lo, hi):
                raise KeyError("boom")

            with pytest.raises(KeyError, match="boom"):
                threads.parallel_for(fail, 2, 1)
            assert blas_counts() == outside  # restored after an error too
    finally:
        threads.set_num_threads(before)


def test_blas_count_is_restored_only_when_the_last_concurrent_kernel_ends():
    """Two threads call kernels at once: the first to finish must not restore the count under the other."""
    if not threads.blas_libraries():
        pytest.skip("threadpoolctl finds no BLAS it can control in this process")
    with threadpool_limits(limits=2, user_api="blas"):
        outside = blas_counts()
        if set(outside.values()) == {1}:
            pytest.skip("this BLAS runs one thread here whatever it is asked: nothing to restore")
        first_in, first_out = threading.Event(), threading.Event()
        seen = {}

        def long_kernel():
            with threads.single_threaded_blas():
                first_in.set()
                first_out.wait(timeout=60)
                seen["after the other left"] = blas_counts()

        other = threading.Thread(target=long_kernel)
        other.start()
        assert first_in.wait(timeout=60)
        with threads.single_threaded_blas():
            seen["both inside"] = blas_counts()
        first_out.set()
        other.join(timeout=60)
        assert seen == {"both inside": {p: 1 for p in outside}, "after the other left": {p: 1 for p in outside}}
        assert blas_counts() == outside


class CountingL2(hg.L2):
    """A user's regularizer: an L2 whose gradient, run between two kernels of a backward pass, notes BLAS's
    thread counts at that moment."""

    def __init__(self, seen: list):
        super().__init__(1e-3)
        self.seen = seen

    def grad(self, x):
        self.seen.append(blas_counts())
        return super().grad(x)


@pytest.mark.parametrize("kernels", backend.CHOICES)
def test_a_whole_pass_runs_in_the_kernel_sets_scope(kernels):
    """numba: BLAS stays at one thread for the whole of a backward pass (set once by ``pass_scope``, not
    lowered and restored around each kernel) and gets its count back after; numpy: BLAS keeps its count."""
    if not threads.blas_libraries():
        pytest.skip("threadpoolctl finds no BLAS it can control in this process")
    before = threads.num_threads()
    try:
        two_threads_or_skip()
        with threadpool_limits(limits=2, user_api="blas"), backend.using_kernels(kernels):
            outside = blas_counts()
            if kernels == "numba" and set(outside.values()) == {1}:
                pytest.skip("this BLAS runs one thread here whatever it is asked: nothing to tell apart")
            seen = []
            layers = [hg.Conv2D(4, 3), hg.ELU(), hg.Flatten(), hg.Dense(8, activity_regularizer=CountingL2(seen)),
                      hg.Dense(3)]
            model = hg.Sequential(layers, input_shape=(1, 6, 6), seed=0)
            x = np.random.default_rng(0).standard_normal((5, 1, 6, 6))
            model.forward_backward(x, np.array([0, 1, 2, 0, 1]))
            assert len(seen) == 1
            assert seen[0] == ({path: 1 for path in outside} if kernels == "numba" else outside)
            assert blas_counts() == outside
            assert backend.active().NAME == kernels
    finally:
        threads.set_num_threads(before)
