"""``load_benchmark(name)``: a script of ``benchmarks/`` imported as a module, its thread settings kept off this
process (``throughput.set_threads`` records its calls in ``module.thread_calls`` instead)."""
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def load_benchmark(monkeypatch):
    def load(name: str):
        monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ on the path: undone after
        path = os.path.join(ROOT, "benchmarks", f"{name}.py")
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.thread_calls = []
        monkeypatch.setattr(module.throughput, "set_threads", module.thread_calls.append)
        return module

    return load
