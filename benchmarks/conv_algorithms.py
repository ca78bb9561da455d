"""im2col against Winograd, one convolution at a time: the measurements behind ``Conv2D(algorithm="auto")``.

    python benchmarks/conv_algorithms.py              # 2 threads, batch 64
    python benchmarks/conv_algorithms.py --threads 1

For each layer shape, the fast kernels' forward + backward pass (input gradient included), float32, run
alternately with both algorithms (``handgrad.kernels.numba.ops`` and ``handgrad.kernels.numba.winograd``); the
table shows the median milliseconds over the rounds (the first discarded) and im2col / Winograd (> 1:
Winograd faster). ``handgrad.kernels.conv_algorithm.AUTO_MIN_CHANNELS`` is set from this table.
"""
from __future__ import annotations

import argparse
import statistics
import time

from throughput import set_threads  # this directory is on sys.path when the script runs

SHAPES = [  # (input channels, filters, input size, kernel size), stride 1, "same" padding
    (32, 64, 14, 5),  # the reference network's conv2 on 28x28 images
    (32, 64, 16, 5),  # ... on 32x32 images
    (64, 64, 8, 5),
    (16, 32, 14, 5),
    (8, 32, 14, 5),
    (3, 32, 32, 5),  # conv1 on 32x32x3 images
    (32, 64, 16, 3),
    (16, 32, 16, 3),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    set_threads(args.threads)  # before NumPy and handgrad load

    import numpy as np

    from handgrad.kernels.conv_geometry import conv_geometry
    from handgrad.kernels.numba import ops as fast
    from handgrad.kernels.numba import winograd as winograd_fast

    rng = np.random.default_rng(0)
    algorithms = {"im2col": fast, "winograd": winograd_fast}
    print(f"batch {args.batch}, {args.threads} threads, median ms of forward + backward over {args.rounds - 1} rounds")
    for C, F, H, k in SHAPES:
        x = rng.standard_normal((args.batch, H, H, C), dtype=np.float32).transpose(0, 3, 1, 2)  # channels last
        W = (rng.standard_normal((F, C, k, k)) * 0.05).astype(np.float32)
        b = np.zeros(F, np.float32)
        g = conv_geometry(H, H, (k, k), (1, 1), "same")
        dz = rng.standard_normal((args.batch, H, H, F), dtype=np.float32).transpose(0, 3, 1, 2)
        times = {name: [] for name in algorithms}
        for r in range(args.rounds):
            for name, kernels in (algorithms.items() if r % 2 == 0 else reversed(algorithms.items())):
                t = time.perf_counter()
                _, cache = kernels.conv2d_forward(x, W, b, g)
                kernels.conv2d_backward(dz, cache, g)
                times[name].append(time.perf_counter() - t)
        im2col, winograd = (statistics.median(times[name][1:]) * 1e3 for name in algorithms)
        print(f"{k}x{k} {C:3d} -> {F:3d} on {H}x{H}: im2col {im2col:6.1f} ms, Winograd {winograd:6.1f} ms, "
              f"im2col / Winograd {im2col / winograd:.2f}")


if __name__ == "__main__":
    main()
