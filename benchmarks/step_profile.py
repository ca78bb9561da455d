"""Where the time goes: one training step and one inference batch of the reference network, part by part.

    python benchmarks/step_profile.py                        # 1x28x28 and 3x32x32, batches 64 and 128
    python benchmarks/step_profile.py --inputs 1x28x28 --batches 64 --modes train
    make profile                                        # the same (or: make bench PROFILE=1)
    python benchmarks/step_profile.py --batchnorm --dropout 0.1  # the network of the README's BatchNorm recipe

Network and recipe: ``handgrad train``'s defaults (``TrainConfig()``): the reference network with
``Dropout(0.5)`` before each Dense layer, AdamW (lr 1e-3, weight decay 0.05 on the kernels), float32, the
active kernel set (numba unless ``HANDGRAD_KERNELS`` says otherwise); ``--batchnorm`` and ``--dropout R``
change the network as ``handgrad train``'s flags do. A training step is what the trainer runs,
``model.forward_backward(x, y, training=True)`` then ``optimizer.step(params, model.gradients())``; an inference
batch is ``model.forward(x)``. Threads: ``--threads`` (default 2) for handgrad's team (``HANDGRAD_NUM_THREADS``),
NumPy's BLAS and numba, set before they load, as ``throughput.py`` does (``set_threads``).

Parts: each step of the model's fusion plan (a layer, or the layers the kernel set runs as one fused step,
named after them: ``conv2d+elu+max_pool2d (im2col)``), forward and backward, timed by ``time.perf_counter``
around the very call ``Sequential`` makes; the loss (softmax cross-entropy and its gradient); the optimizer step; and
``Python/other``: the rest of the step (input checks, penalties, the dicts of parameters and gradients, the
calls between the parts). Each part is its median over ``--repeats`` steps. ``sum of parts`` is compared with
``whole step``: the median of as many steps run without the timers, interleaved with the timed ones.

Limits: each part's own lower bound on this machine, the larger of

- compute: the FLOPs of its matrix products (the products its algorithm runs: im2col's ``2*M*K*N``,
  Winograd's ``handgrad.kernels.winograd_transforms.matmul_flops``; element-wise arithmetic is not counted) at
  the float32 GEMM peak measured in this run: ``np.matmul`` on the network's im2col product shapes, the best of
  BLAS at ``--threads`` threads (``throughput.py``'s ``gemm_peak``) and of the way the kernels run products
  (``team_gemm_peak``: the rows split over handgrad's team, single-threaded BLAS in each thread), measured
  before and after the profiles;
- memory: the bytes the operation must move (its input and output once; parameters, and their gradients in
  backward; what backward must read back: the input of Conv2D and Dense, the output of ELU, max pooling's
  argmax at 1 byte per output, dropout's mask at 1 byte per element; the optimizer reads parameter, gradient
  and state and writes parameter and state) at the memory bandwidth measured in this run (``np.copyto`` of
  256 MiB, read + write, on one thread and on ``--threads`` threads of handgrad's team; the best).

``% limit = limit / measured``. A reshape (Flatten) and inference's dropout (the identity) need to move
nothing: their limit is 0. Operands that stay in the caches can beat the memory limit (over 100 %).

Team idle: the share of the thread team's time in a part that runs no task, ``1 - busy / (threads * ms)``,
where ``busy`` is the seconds its tasks ran (``threads.parallel_for``'s, timed one by one) summed over all
threads: the hand-offs (a worker waits for the GIL that the caller holds while it prepares its own task), the
tasks' Python before their numba call, the end of a call where one thread waits for the other's last task,
and the part's serial work around its calls. ``-``: the part calls no team (it runs on the calling thread).

(Not ``profile.py``: a script's folder comes first on ``sys.path``, and a ``benchmarks/profile.py`` would hide the
standard library's ``profile`` from ``throughput.py``, whose PyTorch imports ``cProfile``, which imports it.)
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # noqa: E402 (the same network builder, thread settings, GEMM peak and BLAS description)

ROOT = throughput.ROOT
SHAPES = throughput.SHAPES
COPY_BYTES = 256 << 20  # the bandwidth copy: far beyond the caches


# ---------------------------------------------------------------------------------------------- model and recipe
def default_recipe(shape, steps_per_epoch: int = 1000, **fields):
    """``(model, optimizer, config)``: ``handgrad train``'s default network and optimizer for ``shape``, with the
    ``TrainConfig`` ``fields`` given (``batchnorm=True``, ``dropout=0.1``: the README's BatchNorm recipe)."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from handgrad.config import TrainConfig
    from handgrad.training.run import build_optimizer
    config = TrainConfig(**fields)
    model = config.build_model(shape, 10)
    return model, build_optimizer(config, steps_per_epoch, model), config


# ---------------------------------------------------------------------------------------------- machine limits
def memory_bandwidth(nbytes: int = COPY_BYTES, repeats: int = 5) -> tuple[float, float]:
    """``(one thread, team)`` GB/s of a float32 ``np.copyto`` of ``nbytes`` (bytes read + bytes written)."""
    import numpy as np

    from handgrad.kernels import threads
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)

    def team_copy():
        def task(lo, hi):
            np.copyto(dst[lo:hi], src[lo:hi])
        threads.parallel_for(task, src.size, -(-src.size // threads.num_threads()))

    rates = []
    for copy in (lambda: np.copyto(dst, src), team_copy):
        copy()  # touches the pages
        rates.append(2 * src.nbytes / min(throughput._timed(copy) for _ in range(repeats)) / 1e9)
    return rates[0], rates[1]


def team_gemm_peak(arch, batch, repeats: int = 5) -> tuple[float, str]:
    """``(GFLOP/s, name)``: as ``throughput.gemm_peak``, with the rows of each product split over handgrad's
    team and BLAS single-threaded in each thread (how the kernels run their products)."""
    import numpy as np

    from handgrad.kernels import threads
    rng = np.random.default_rng(0)
    best = (0.0, "")
    for name, M, K, N, _, _ in throughput.product_shapes(arch, batch):
        if not name.startswith("conv2d"):
            continue
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        out = np.empty((M, N), dtype=np.float32)

        def product(a=a, b=b, out=out):
            def task(lo, hi):
                np.matmul(a[lo:hi], b, out=out[lo:hi])
            threads.parallel_for(task, len(a), -(-len(a) // threads.num_threads()))

        product()
        t = min(throughput._timed(product) for _ in range(repeats))
        best = max(best, (2 * M * K * N / t / 1e9, f"{name} ({M}x{K} @ {K}x{N}), team"))
    return best


def gemm_peaks(arch, batches) -> list:
    """``[(GFLOP/s, name)]``: both ways of running the products (``throughput.gemm_peak``, ``team_gemm_peak``)."""
    return [peak(arch, b) for b in batches for peak in (throughput.gemm_peak, team_gemm_peak)]


# ---------------------------------------------------------------------------------------------- costs of the parts
def _size(shape) -> int:
    return math.prod(shape)


def products_flops(layer, N: int) -> int:
    """FLOPs of one pass of ``layer``'s matrix products at batch ``N`` (0 for layers without products)."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        C, (F, OH, OW) = layer.input_shape[0], layer.output_shape
        if layer.conv_algorithm == "winograd":
            from handgrad.kernels import winograd_transforms
            return winograd_transforms.matmul_flops(N, C, F, layer.geometry)
        KH, KW = layer.kernel_size
        return 2 * N * OH * OW * C * KH * KW * F
    if kind == "Dense":
        return 2 * N * layer.input_shape[0] * layer.output_shape[0]
    return 0


def _moves_nothing(layer, training: bool) -> bool:
    kind = type(layer).__name__
    return kind == "Flatten" or (kind == "Dropout" and (not training or layer.rate == 0.0))


def group_cost(layers, N: int, itemsize: int, training: bool, backward: bool, input_grad: bool):
    """``(FLOPs, bytes)`` of one step of the plan (``layers`` run as one) at batch ``N``; see the module docstring.

    Forward: the group's input and output, parameters, and what it stores for backward (argmax, mask);
    backward: the output gradient, the input gradient (``input_grad``), parameters and their gradients, and
    what it reads back (the input of a product, ELU's output at the group's output size, argmax, mask).
    """
    if all(_moves_nothing(layer, training) for layer in layers):
        return 0, 0
    n_in = N * _size(layers[0].input_shape) * itemsize
    n_out = N * _size(layers[-1].output_shape) * itemsize
    params = sum(p.nbytes for layer in layers for p in layer.params.values())
    flops = 0
    for layer in layers:  # backward: the weight gradient's products, and the input gradient's where it is asked
        passes = 1 if not backward else 1 + (input_grad if layer is layers[0] else True)
        flops += passes * products_flops(layer, N)
    extra = 0
    for layer in layers:
        kind = type(layer).__name__
        if kind == "MaxPool2D":
            extra += N * _size(layer.output_shape)  # int8 argmax
        elif kind == "Dropout" and training:
            extra += N * _size(layer.input_shape)  # the mask, one byte per element
        elif backward and kind in ("Conv2D", "Dense", "BatchNorm2D", "BatchNorm1D"):
            extra += N * _size(layer.input_shape) * itemsize  # the input, for dW (BatchNorm: for xhat)
        elif backward and kind == "ELU":
            extra += n_out  # ELU's output, as the group caches it
    if not backward:
        return flops, n_in + n_out + params + extra
    return flops, n_out + (n_in if input_grad else 0) + 2 * params + extra


def optimizer_bytes(optimizer, params) -> int:
    """Bytes of one optimizer step: parameters read and written, gradients read, array state read and written."""
    state = sum(v.nbytes for v in optimizer.state_dict().values() if getattr(v, "ndim", 0) > 0)
    grads = sum(p.nbytes for p in params.values())
    return 3 * grads + 2 * state


# ---------------------------------------------------------------------------------------------- timers
class Timers:
    """``perf_counter`` around named calls; ``laps[name]`` collects the seconds of each repetition, and
    ``busy_laps[name]`` the seconds the team's tasks ran inside them (``team_tasks``; parts without tasks have
    none)."""

    def __init__(self):
        self.current: dict[str, float] = {}
        self.busy: dict[str, float] = {}
        self.laps: dict[str, list[float]] = {}
        self.busy_laps: dict[str, list[float]] = {}
        self.part: str | None = None  # the part running now, which the tasks' time goes to

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            outer, self.part = self.part, name
            try:
                return fn(*args, **kwargs)
            finally:
                self.part = outer
                self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - t
        return timed

    def add_busy(self, seconds: float) -> None:
        """A task of the team ran ``seconds`` (from any thread) inside the current part."""
        if self.part is not None:
            self.busy[self.part] = self.busy.get(self.part, 0.0) + seconds

    def commit(self, total: float) -> None:
        """End one repetition of ``total`` seconds: its parts, and the rest as ``Python/other``."""
        self.current["Python/other"] = total - sum(self.current.values())
        for name, seconds in self.current.items():
            self.laps.setdefault(name, []).append(seconds)
        for name, seconds in self.busy.items():
            self.busy_laps.setdefault(name, []).append(seconds)
        self.current, self.busy = {}, {}


def team_idle(seconds: float, busy: float, threads: int) -> float:
    """The share of ``threads`` threads' time over ``seconds`` that ran no task: ``1 - busy / (threads *
    seconds)``, in [0, 1] (timer rounding can put ``busy`` a hair above the wall time)."""
    if seconds <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - busy / (threads * seconds)))


@contextlib.contextmanager
def team_tasks(timers: Timers):
    """Every task of ``threads.parallel_for`` timed, its seconds added to the part that runs it; removed on
    exit. The kernels call it through the module (``threads.parallel_for``), so one attribute covers them all."""
    from handgrad.kernels import threads
    parallel_for = threads.parallel_for

    def timed_parallel_for(fn, n, grain):
        lock = threading.Lock()
        busy = [0.0]

        def task(lo, hi):
            t = time.perf_counter()
            try:
                fn(lo, hi)
            finally:
                with lock:
                    busy[0] += time.perf_counter() - t

        try:
            parallel_for(task, n, grain)
        finally:
            timers.add_busy(busy[0])

    threads.parallel_for = timed_parallel_for
    try:
        yield
    finally:
        threads.parallel_for = parallel_for


def step_names(model) -> list[tuple[str, int, int, object]]:
    """``[(name, lo, hi, step)]``: the steps ``Sequential`` runs (its fusion plan), named after their layers."""
    steps = model._plan()  # the very step objects forward and backward call (kept while the plan is the same)
    out = []
    for lo, hi, step in steps:
        layers = model.layers[lo:hi]
        name = "+".join(layer.name for layer in layers)
        if type(layers[0]).__name__ == "Conv2D":  # alone, or fused with what follows it
            name += f" ({layers[0].conv_algorithm})"
        out.append((name, lo, hi, step))
    return out


@contextlib.contextmanager
def instrumented(model, optimizer, timers: Timers):
    """Timers around every step's ``forward``/``backward``, the loss and ``optimizer.step``; removed on exit."""
    import handgrad.sequential as sequential_module
    steps = step_names(model)
    loss = sequential_module.softmax_cross_entropy
    for name, _, _, step in steps:
        step.forward = timers.wrap(f"{name} forward", step.forward)
        step.backward = timers.wrap(f"{name} backward", step.backward)
    optimizer.step = timers.wrap("optimizer step", optimizer.step)
    sequential_module.softmax_cross_entropy = timers.wrap("loss (softmax cross-entropy)", loss)
    try:
        yield
    finally:
        for _, _, _, step in steps:
            del step.forward, step.backward  # the class's methods again
        del optimizer.step
        sequential_module.softmax_cross_entropy = loss


# ---------------------------------------------------------------------------------------------- one profile
def profile(shape_name: str, batch: int, mode: str, repeats: int, warmup: int = 3, **fields) -> dict:
    """Time ``repeats`` training steps (``mode="train"``) or inference batches (``"infer"``), with and without
    the timers, interleaved. Returns the parts' medians, costs and the whole step's median. ``fields``: of the
    recipe's ``TrainConfig`` (``default_recipe``)."""
    import numpy as np
    model, optimizer, config = default_recipe(SHAPES[shape_name], **fields)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, *SHAPES[shape_name]), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    params = model.parameters()
    training = mode == "train"

    def run():
        if training:
            model.forward_backward(x, y, training=True)
            optimizer.step(params, model.gradients())
        else:
            model.forward(x, training=False)

    for _ in range(warmup):  # JIT compilation, buffers, the optimizer's state
        run()
    timers, whole = Timers(), []
    for r in range(repeats):
        for timed in ((True, False) if r % 2 == 0 else (False, True)):
            if timed:
                with instrumented(model, optimizer, timers), team_tasks(timers):
                    timers.commit(throughput._timed(run))
            else:
                whole.append(throughput._timed(run))
    itemsize = np.dtype(model.dtype).itemsize
    rows = []
    steps = step_names(model)
    for phase, order in (("forward", steps), ("backward", steps[::-1])):
        if phase == "backward" and not training:
            break
        if phase == "backward":
            rows.append(("loss (softmax cross-entropy)", 0, 2 * batch * model.num_classes * itemsize))
        for name, lo, hi, _ in order:
            flops, nbytes = group_cost(model.layers[lo:hi], batch, itemsize, training, phase == "backward",
                                       input_grad=lo > 0)
            rows.append((f"{name} {phase}", flops, nbytes))
    if training:
        rows.append(("optimizer step", 0, optimizer_bytes(optimizer, params)))
    rows.append(("Python/other", 0, 0))
    # every row was timed (a KeyError names one the timers missed)
    parts = [(name, statistics.median(timers.laps[name]), flops, nbytes) for name, flops, nbytes in rows]
    if set(timers.laps) != {name for name, _, _ in rows}:
        raise RuntimeError(f"profile: timed parts without a row: {sorted(set(timers.laps) - {r[0] for r in rows})}")
    # team idle per part, from the same repetitions: the median of each repetition's idle share
    from handgrad.kernels import threads
    size = threads.num_threads()
    idle = {name: statistics.median(team_idle(seconds, busy, size)
                                    for seconds, busy in zip(timers.laps[name], timers.busy_laps[name]))
            for name in timers.busy_laps}
    total_busy = [sum(laps[i] for laps in timers.busy_laps.values()) for i in range(repeats)]
    step_idle = statistics.median(team_idle(sum(laps[i] for laps in timers.laps.values()), total_busy[i], size)
                                  for i in range(repeats))
    return {"input": shape_name, "batch": batch, "mode": mode, "parts": parts, "whole": statistics.median(whole),
            "optimizer": type(optimizer).__name__, "dropout": config.dropout, "batchnorm": config.batchnorm,
            "repeats": repeats, "idle": idle, "step_idle": step_idle}


# ---------------------------------------------------------------------------------------------- report
def table(result: dict, peak: float, bandwidth: float) -> str:
    """The parts of one profile with their limits; ``peak`` in GFLOP/s, ``bandwidth`` in GB/s."""
    network = f"dropout {result['dropout']}" + (", BatchNorm" if result.get("batchnorm") else "")
    what = (f"training step ({result['optimizer']}, {network})" if result["mode"] == "train"
            else "inference batch")
    lines = [f"{result['input']}, batch {result['batch']}, {what}: medians of {result['repeats']}",
             f"{'part':50} {'ms':>7} {'share':>6} {'GFLOP':>7} {'MB':>7} {'limit ms':>8} {'% limit':>7} {'idle':>5}"
             "  bound"]
    lines.append("-" * len(lines[-1]))
    total = sum(seconds for _, seconds, _, _ in result["parts"])
    limit_total = 0.0
    for name, seconds, flops, nbytes in result["parts"]:
        compute, memory = flops / (peak * 1e9), nbytes / (bandwidth * 1e9)
        limit = max(compute, memory)
        limit_total += limit
        share = f"{100 * seconds / total:5.1f}%"
        if name == "Python/other":
            lines.append(f"{name:50} {1e3 * seconds:7.3f} {share:>6} {'':>7} {'':>7} {'':>8} {'':>7}")
            continue
        pct = f"{100 * limit / seconds:6.0f}%" if limit > 0 and seconds > 0 else f"{'-':>7}"
        idle = result.get("idle", {}).get(name)
        idle = f"{'-':>5}" if idle is None else f"{100 * idle:4.0f}%"
        bound = "" if limit == 0 else ("GEMM" if compute >= memory else "memory")
        lines.append(f"{name:50} {1e3 * seconds:7.3f} {share:>6} {flops / 1e9:7.3f} {nbytes / 1e6:7.2f} "
                     f"{1e3 * limit:8.3f} {pct} {idle}  {bound}")
    lines.append("-" * len(lines[1]))
    step_idle = f"{100 * result['step_idle']:4.0f}%" if "step_idle" in result else ""
    lines.append(f"{'sum of parts':50} {1e3 * total:7.3f} {'':>6} {'':>7} {'':>7} {1e3 * limit_total:8.3f} "
                 f"{100 * limit_total / total:6.0f}% {step_idle}")
    whole = result["whole"]
    lines.append(f"{'whole step, no timers (interleaved)':50} {1e3 * whole:7.3f}   sum of parts / whole = "
                 f"{total / whole:.3f}; {result['batch'] / whole:.0f} images/s")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of handgrad's team, BLAS and numba (2)")
    parser.add_argument("--inputs", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per part, and as many untimed (30)")
    parser.add_argument("--copy-mib", type=int, default=COPY_BYTES >> 20, help="size of the bandwidth copy (256)")
    parser.add_argument("--batchnorm", action="store_true", help="the network of handgrad train --batchnorm")
    parser.add_argument("--dropout", type=float, default=None, help="handgrad train's --dropout (its default)")
    args = parser.parse_args(argv)
    fields = {"batchnorm": True} if args.batchnorm else {}
    if args.dropout is not None:
        fields["dropout"] = args.dropout
    throughput.set_threads(args.threads)
    sys.path.insert(0, os.path.join(ROOT, "src"))
    import numpy as np

    import handgrad
    from handgrad.kernels import backend
    arch = {s: throughput.architecture(SHAPES[s]) for s in args.inputs}
    peaks = [p for s in args.inputs for p in gemm_peaks(arch[s], args.batches)]
    bandwidths = [memory_bandwidth(args.copy_mib << 20)]
    results = [profile(s, b, m, args.repeats, **fields) for s in args.inputs for b in args.batches for m in args.modes]
    peaks += [p for s in args.inputs for p in gemm_peaks(arch[s], args.batches)]
    bandwidths.append(memory_bandwidth(args.copy_mib << 20))
    peak, peak_shape = max(peaks)
    one, team = (max(b[i] for b in bandwidths) for i in (0, 1))
    bandwidth = max(one, team)
    print(f"handgrad ({os.path.dirname(handgrad.__file__)}) kernels: {backend.active_kernels()}; threads: "
          f"{args.threads}; NumPy {np.__version__}; NumPy's BLAS: {throughput.describe_blas()}")
    print(f"GEMM peak {peak:.0f} GFLOP/s ({peak_shape}, best of before and after); memory bandwidth "
          f"{bandwidth:.1f} GB/s ({args.copy_mib} MiB np.copyto, read + write: {one:.1f} on one thread, "
          f"{team:.1f} on the team)\n")
    for result in results:
        print(table(result, peak, bandwidth), end="\n\n", flush=True)
    print("ms: median per part; share: of the sum of parts; limit: max(FLOPs / GEMM peak, bytes / bandwidth); "
          "% limit = limit / ms; idle: the share of the team's thread time in the part that ran no task (team idle, "
          "above; on the sum row: of the whole step); Python/other = the step's time outside the timed calls")


if __name__ == "__main__":
    main()
