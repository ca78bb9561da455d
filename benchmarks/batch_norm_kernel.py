"""BatchNorm's kernels, NumPy set against numba set, on the shapes of the reference network with ``--batchnorm``.

    python benchmarks/batch_norm_kernel.py                  # 2 threads, batches 64 and 128
    python benchmarks/batch_norm_kernel.py --threads 1 --batches 64

For each shape (conv1's output ``(N, 32, 28, 28)``, conv2's ``(N, 64, 14, 14)``, Dense(256)'s ``(N, 256)``), the
training forward (batch statistics), its backward, and the inference forward, in milliseconds: the median of
``--rounds`` rounds of 10 calls, the two kernel sets alternating round by round, channels-last input as a conv
layer of the numba set returns it. ``GB/s``: the bytes the numba kernel moves (forward: ``x`` read twice, ``y``
written; backward: ``x`` and ``dy`` read twice, ``dx`` written; inference: ``x`` read, ``y`` written) per second.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # noqa: E402 (the thread settings of every benchmark, set before NumPy loads)

ROOT = throughput.ROOT


def shapes(batch: int) -> dict:
    return {"conv1 (N, 32, 28, 28)": (batch, 32, 28, 28), "conv2 (N, 64, 14, 14)": (batch, 64, 14, 14),
            "dense (N, 256)": (batch, 256)}


def channels_last(a):
    """The same logical ``(N, C, H, W)`` array, channels last in memory (as the numba set's conv output)."""
    import numpy as np
    if a.ndim != 4:
        return a
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def measure(shape, rounds: int) -> dict:
    """``{(kernel set, pass): median ms}`` for one shape; passes ``train``, ``backward``, ``infer``."""
    import numpy as np

    from handgrad.kernels import numba as kernels_numba
    from handgrad.kernels import numpy as kernels_numpy
    rng = np.random.default_rng(0)
    x = channels_last(rng.standard_normal(shape, dtype=np.float32))
    dy = channels_last(rng.standard_normal(shape, dtype=np.float32))
    C = shape[1]
    gamma, beta = np.ones(C, np.float32), np.zeros(C, np.float32)
    moving = (np.zeros(C, np.float32), np.ones(C, np.float32))
    sets = {"numpy": kernels_numpy, "numba": kernels_numba}
    caches = {name: k.batch_norm_forward(x, gamma, beta, 1e-3)[3] for name, k in sets.items()}  # and compile
    passes = {
        "train": lambda k, name: k.batch_norm_forward(x, gamma, beta, 1e-3),
        "backward": lambda k, name: k.batch_norm_backward(dy, caches[name], gamma),
        "infer": lambda k, name: k.batch_norm_forward(x, gamma, beta, 1e-3, moving),
    }
    laps = {(name, p): [] for name in sets for p in passes}
    for r in range(rounds):
        for name in (("numpy", "numba") if r % 2 == 0 else ("numba", "numpy")):
            for p, run in passes.items():
                run(sets[name], name)
                start = time.perf_counter()
                for _ in range(10):
                    run(sets[name], name)
                laps[name, p].append((time.perf_counter() - start) / 10 * 1e3)
    return {key: statistics.median(v) for key, v in laps.items()}


def moved_bytes(shape, p: str) -> int:
    n = 4
    for d in shape:
        n *= d
    return {"train": 3 * n, "backward": 5 * n, "infer": 2 * n}[p]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of handgrad's team, BLAS and numba (2)")
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    throughput.set_threads(args.threads)
    sys.path.insert(0, os.path.join(ROOT, "src"))
    print(f"threads {args.threads}; ms per call, median of {args.rounds} rounds of 10 (NumPy set / numba set)")
    print(f"{'shape':28} {'batch':>5} {'pass':9} {'numpy ms':>9} {'numba ms':>9} {'speed-up':>8} {'GB/s':>6}")
    for batch in args.batches:
        for label, shape in shapes(batch).items():
            ms = measure(shape, args.rounds)
            for p in ("train", "backward", "infer"):
                ref, fast = ms["numpy", p], ms["numba", p]
                print(f"{label:28} {batch:5d} {p:9} {ref:9.3f} {fast:9.3f} {ref / fast:7.1f}x "
                      f"{moved_bytes(shape, p) / fast / 1e6:6.1f}", flush=True)


if __name__ == "__main__":
    main()
