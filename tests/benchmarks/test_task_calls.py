"""``benchmarks/task_calls.py`` runs its whole code path once on a tiny batch (no timing is asserted)."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from handgrad.kernels.numba import blas, ops, winograd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_prints_both_modes_of_each_input_and_restores_the_one_call_tasks(monkeypatch, capsys):
    if not blas.address(np.float32):
        pytest.skip("NumPy's gemm was not found: the benchmark has nothing to compare")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ on the path: undone after
    spec = importlib.util.spec_from_file_location("benchmark_task_calls",
                                                  os.path.join(ROOT, "benchmarks", "task_calls.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.throughput, "set_threads", lambda n: None)  # keeps this process's environment
    before = ops._gemm, winograd._gemm
    module.main(["--batch", "2", "--rounds", "1"])
    assert (ops._gemm, winograd._gemm) == before
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[7:]]
    expected = [[name, mode] for name in module.throughput.SHAPES for mode in ("train", "infer")]
    assert [row[:2] for row in rows] == expected
    assert all(float(row[-1]) > 0 for row in rows)
