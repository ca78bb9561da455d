"""``benchmarks/task_calls.py`` runs its whole code path once on a tiny batch (no timing is asserted)."""
import numpy as np
import pytest

from handgrad.kernels.numba import blas, ops, winograd


def test_prints_both_modes_of_each_input_and_restores_the_one_call_tasks(load_benchmark, capsys):
    if not blas.address(np.float32):
        pytest.skip("NumPy's gemm was not found: the benchmark has nothing to compare")
    module = load_benchmark("task_calls")
    before = ops._gemm, winograd._gemm
    module.main(["--batch", "2", "--rounds", "1"])
    assert (ops._gemm, winograd._gemm) == before
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[7:]]
    expected = [[name, mode] for name in module.throughput.SHAPES for mode in ("train", "infer")]
    assert [row[:2] for row in rows] == expected
    assert all(float(row[-1]) > 0 for row in rows)
