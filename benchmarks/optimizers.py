"""One optimizer step on the reference network's parameters: handgrad's fused loops, its NumPy rules, PyTorch.

    python benchmarks/optimizers.py              # 2 threads
    python benchmarks/optimizers.py --threads 1

For AdamW (the trainer's default) and SGD with momentum, the same parameters and gradients (float32, the
858k parameters of ``handgrad.models.reference_cnn`` on 28x28 images) are updated by handgrad with the numba
kernels (``handgrad.kernels.numba.optim``), by handgrad with ``HANDGRAD_KERNELS=numpy``'s NumPy rules and by
``torch.optim`` (``foreach=False``, as a step over separate tensors), in alternating rounds. Printed: the
median milliseconds per step over the rounds and handgrad / PyTorch speed ratios (> 1: handgrad faster).
"""
from __future__ import annotations

import argparse
import statistics
import time

from throughput import set_threads  # this directory is on sys.path when the script runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    args = parser.parse_args(argv)
    set_threads(args.threads)  # before NumPy, PyTorch and handgrad load

    import numpy as np
    import torch

    from handgrad import optim
    from handgrad.kernels import backend
    from handgrad.models import reference_cnn

    torch.set_num_threads(args.threads)
    params = reference_cnn(input_shape=(1, 28, 28), seed=0).parameters()
    rng = np.random.default_rng(0)
    grads = {k: (1e-3 * rng.standard_normal(p.shape)).astype(p.dtype) for k, p in params.items()}
    tparams = [torch.tensor(p, requires_grad=True) for p in params.values()]
    for t, g in zip(tparams, grads.values()):
        t.grad = torch.from_numpy(g)
    cases = {
        "AdamW": (lambda: optim.AdamW(lr=1e-3, weight_decay=0.05),
                  lambda: torch.optim.AdamW(tparams, lr=1e-3, weight_decay=0.05, foreach=False)),
        "Momentum": (lambda: optim.Momentum(lr=1e-3, momentum=0.9),
                     lambda: torch.optim.SGD(tparams, lr=1e-3, momentum=0.9, foreach=False)),
    }
    print(f"{args.threads} threads, {sum(p.size for p in params.values()):,} float32 parameters; median ms per step "
          f"over {args.rounds} rounds of {args.steps} steps")
    for name, (make_ours, make_torch) in cases.items():
        fused_opt, numpy_opt, torch_opt = make_ours(), make_ours(), make_torch()

        def numpy_step(opt=numpy_opt):
            with backend.using_kernels("numpy"):
                opt.step(params, grads)

        runs = {"fused": lambda opt=fused_opt: opt.step(params, grads), "NumPy": numpy_step,
                "PyTorch": torch_opt.step}
        times = {k: [] for k in runs}
        for r in range(args.rounds):
            for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                runs[k]()  # warm
                t = time.perf_counter()
                for _ in range(args.steps):
                    runs[k]()
                times[k].append((time.perf_counter() - t) / args.steps * 1e3)
        ms = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name:9s} fused {ms['fused']:.2f} ms, NumPy rule {ms['NumPy']:.2f} ms, PyTorch {ms['PyTorch']:.2f} ms; "
              f"ratio fused / PyTorch {ms['PyTorch'] / ms['fused']:.2f}x, NumPy rule / PyTorch "
              f"{ms['PyTorch'] / ms['NumPy']:.2f}x")


if __name__ == "__main__":
    main()
