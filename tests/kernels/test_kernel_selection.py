"""Choosing the kernel set, running without numba, and the thread team."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import handgrad as hg
from handgrad.kernels import backend, threads

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
            assert backend.active_kernels() == "numpy" and backend.fast() is None
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


def test_workers_follow_the_callers_numpy_error_handling():
    """``np.errstate`` is per thread: a kernel must not warn, raise or stay silent where NumPy's would not."""
    before = threads.num_threads()
    try:
        threads.set_num_threads(2)
        seen, who = [], set()

        def record(lo, hi):
            time.sleep(0.01)  # long enough for both threads to take tasks
            seen.append(np.geterr()["over"])
            who.add(threading.get_ident())

        with np.errstate(over="raise"):
            threads.parallel_for(record, 8, 1)
        assert seen == ["raise"] * 8
        seen.clear()
        with np.errstate(over="ignore"):
            threads.parallel_for(record, 8, 1)
        assert seen == ["ignore"] * 8
        assert len(who) == 2
    finally:
        threads.set_num_threads(before)


def test_blas_is_single_threaded_inside_the_kernels_and_restored_after():
    if threads._blas is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS handgrad can control")
    get, _ = threads._blas
    outside = get()
    with threads.single_threaded_blas():
        assert get() == 1
        with threads.single_threaded_blas():
            assert get() == 1
        assert get() == 1
    assert get() == outside
