"""``benchmarks/batch_norm_kernel.py`` runs its whole code path once on a tiny batch (no timing is asserted)."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_prints_every_shape_and_pass(monkeypatch, capsys):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ on the path: undone after
    spec = importlib.util.spec_from_file_location("benchmark_batch_norm_kernel",
                                                  os.path.join(ROOT, "benchmarks", "batch_norm_kernel.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.throughput, "set_threads", lambda n: None)  # keeps this process's environment
    module.main(["--batches", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.endswith(tuple("0123456789")) and " 2 " in line]
    assert len(rows) == 9  # three shapes, three passes
    for label in module.shapes(2):
        assert sum(line.startswith(label) for line in rows) == 3
