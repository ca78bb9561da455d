"""The float32 ELU kernel with and without fused multiply-adds: speed, and error in ulps.

    python benchmarks/elu_kernel.py                # speed, and the error on 2**20 normal samples
    python benchmarks/elu_kernel.py --exhaustive   # the error over every float32 in [-17.5, 0] (minutes)

``numba_loops.elu_f32`` is compiled with ``fastmath={"contract"}``: LLVM fuses multiply-adds where the CPU
has FMA. This script compiles the same Python function twice, as shipped and without ``contract``, so one
machine measures both variants: nanoseconds per element (best of 15 rounds of 20 calls on 2**20 elements,
one thread) and the largest error against float64 ``expm1`` in float32 ulps (alpha = 1).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from handgrad.kernels.numba import loops as numba_loops

VARIANTS = {
    "fused multiply-adds allowed (shipped)": njit(nogil=True, fastmath={"contract"})(numba_loops.elu_f32.py_func),
    "no fused multiply-adds": njit(nogil=True)(numba_loops.elu_f32.py_func),
}


def worst_ulps(kernel, x: np.ndarray) -> tuple[float, float]:
    """``(largest error in ulps, the x where it occurs)`` of ``kernel`` on ``x`` (float32, all <= 0)."""
    exact = np.expm1(x.astype(np.float64))
    y = np.empty_like(x)
    kernel(x, np.float32(1.0), y)
    errors = np.abs(y - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    i = int(np.argmax(errors))
    return float(errors[i]), float(x[i])


def every_float32(lowest: float = -17.5, block: int = 1 << 24):
    """Blocks of every float32 in ``[lowest, -0]``, by bit pattern (the kernel clamps below -17.4)."""
    first, last = 0x80000000, int(np.array([lowest], np.float32).view(np.uint32)[0])
    for start in range(first, last + 1, block):
        yield np.arange(start, min(start + block, last + 1), dtype=np.uint64).astype(np.uint32).view(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exhaustive", action="store_true", help="every float32 in [-17.5, 0] (minutes)")
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
    y = np.empty_like(x)
    for name, kernel in VARIANTS.items():
        kernel(x, np.float32(1.0), y)  # compile
        rounds = []
        for _ in range(15):
            start = time.perf_counter()
            for _ in range(20):
                kernel(x, np.float32(1.0), y)
            rounds.append((time.perf_counter() - start) / 20 / x.size * 1e9)
        blocks = every_float32() if args.exhaustive else [-np.abs(x)]
        worst, where = max(worst_ulps(kernel, b) for b in blocks)
        print(f"{name:40s} {min(rounds):6.3f} ns/element   max error {worst:.4f} ulp (x = {where!r})")


if __name__ == "__main__":
    main()
