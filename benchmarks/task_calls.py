"""One numba call per task against the Python loops around ``np.matmul``, in one process, on the reference network.

    python benchmarks/task_calls.py                      # 2 threads, batch 64, both inputs
    python benchmarks/task_calls.py --batch 128 --rounds 40

The numba set's convolutions run a task's chunks in one numba call, products included (``kernels/numba/
im2col_chunks.py``, ``winograd_chunks.py``), where they used to call numba loops and ``np.matmul`` in turn
from Python, releasing and retaking the GIL between the calls. Both give the same bits; this measures the
time. The two alternate round by round in one process (``--rounds`` rounds of 3 training steps and 3
inference batches each), so that the drift of a shared machine falls on both; printed: the 25th percentile
and the median of each, in milliseconds, and their ratio. First, why (``gil_handoffs``): short numba calls
(``nogil``) on 1 and on 2 threads, each thread making the same calls.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # noqa: E402 (the thread settings of every benchmark, set before NumPy loads)


def gil_handoffs(work_us=(1, 5, 20, 100), calls_us: float = 2e4) -> list:
    """``[(work, us per call on 1 thread, on 2 threads)]``: each thread makes the same calls of a numba loop of about
    ``work`` microseconds, which releases the GIL; two threads would take as long as one if the calls did not
    wait for the GIL in between."""
    import threading

    import numpy as np
    from numba import njit

    @njit(nogil=True)
    def spin(a, n):  # about n * 1.2 us: a dependent chain of 1000 multiply-adds per round
        s = 0.0
        for _ in range(n):
            for v in a:
                s += v * 1.0000001
        return s

    a = np.ones(1000)
    spin(a, 1)
    rows = []
    for n in work_us:
        calls = int(calls_us // n)
        seconds = [0.0, 0.0]

        def run(i, n=n, calls=calls, seconds=seconds):
            t = time.perf_counter()
            for _ in range(calls):
                spin(a[:], n)  # a slice: a little Python between the calls, as a task has
            seconds[i] = time.perf_counter() - t

        run(0)
        one = seconds[0] / calls
        pair = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        t = time.perf_counter()
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
        rows.append((n, one * 1e6, (time.perf_counter() - t) / calls * 1e6))
    return rows


def measure(shape, batch: int, rounds: int) -> dict:
    """``{(path, mode): [seconds]}`` with path ``tasks`` (one call) or ``loops`` and mode ``train``/``infer``."""
    import numpy as np
    import step_profile

    from handgrad.kernels.numba import ops, winograd

    model, optimizer, _ = step_profile.default_recipe(shape)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    params = model.parameters()

    def train():
        model.forward_backward(x, y, training=True)
        optimizer.step(params, model.gradients())

    def infer():
        model.forward(x)

    one_call = ops._gemm, winograd._gemm
    paths = {"tasks": one_call, "loops": (lambda *args: 0,) * 2}
    times = {(path, mode): [] for path in paths for mode in ("train", "infer")}
    try:
        for r in range(rounds):
            for path in sorted(paths, reverse=r % 2 == 1):
                ops._gemm, winograd._gemm = paths[path]
                for mode, step in (("train", train), ("infer", infer)):
                    step()  # after the switch: caches and buffers of this path
                    for _ in range(3):
                        t = time.perf_counter()
                        step()
                        times[(path, mode)].append(time.perf_counter() - t)
    finally:
        ops._gemm, winograd._gemm = one_call
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--inputs", nargs="+", default=list(throughput.SHAPES), choices=list(throughput.SHAPES))
    args = parser.parse_args(argv)
    throughput.set_threads(args.threads)
    import numpy as np

    from handgrad.kernels.numba import blas
    if not blas.address(np.float32):
        sys.exit("NumPy's cblas_sgemm64_ was not found: the kernels run the Python loops only")
    print("numba calls of n rounds (~1.2 us each): us per call, one thread alone / two threads, the same calls each")
    for n, one, two in gil_handoffs():
        print(f"  n = {n:3d}: {one:7.2f} / {two:7.2f}  (speed-up of 2 threads: {2 * one / two:.2f}x)")
    print(f"{args.threads} threads, batch {args.batch}, {args.rounds} rounds; ms, p25 / median")
    print(f"{'input':9s} {'mode':6s} {'loops':>17s} {'one call':>17s} {'one call / loops':>18s}")
    for name in args.inputs:
        times = measure(throughput.SHAPES[name], args.batch, args.rounds)
        for mode in ("train", "infer"):
            loops, tasks = (np.array(times[(path, mode)]) * 1e3 for path in ("loops", "tasks"))
            print(f"{name:9s} {mode:6s} {np.percentile(loops, 25):8.2f} / {np.median(loops):6.2f} "
                  f"{np.percentile(tasks, 25):8.2f} / {np.median(tasks):6.2f} "
                  f"{np.median(tasks) / np.median(loops):18.3f}")


if __name__ == "__main__":
    main()
