"""Training and inference throughput of the reference network: handgrad against PyTorch on the CPU.

    python benchmarks/throughput.py            # full run (a few minutes on 2 cores)
    python benchmarks/throughput.py --quick    # fewer repetitions
    python benchmarks/throughput.py --algorithm im2col auto   # handgrad's convolutions both ways, one run

The reference network ``handgrad.models.reference_cnn`` (``Conv2D(32, 5, same) - ELU - MaxPool2D(2) -
Conv2D(64, 5, same) - ELU - MaxPool2D(2) - Flatten - Dense(256) - ELU - Dense(10)``) with softmax
cross-entropy, float32, is built in both frameworks with the same initial weights: the PyTorch twin, the FLOP
count and the GEMM shapes all follow its layers (``architecture``), so they cannot drift from it. A training
step is forward + backward + an SGD update with momentum 0.9 by each framework's optimizer, the same formula
on both sides (``handgrad.optim.Momentum`` and ``torch.optim.SGD``: ``v = 0.9 v + g; p -= lr v``); inference
is a forward pass (``torch.inference_mode()`` for PyTorch). Inference is also timed in onnxruntime, on the
file ``handgrad.export.to_onnx`` writes from the same handgrad model (CPU execution provider, its default
graph optimizations, ``intra_op_num_threads = --threads``): the runtime a user would pick to serve the network;
``ORT`` and ``hg/ORT`` in the table, its logits' distance to handgrad's below it. All
run with ``--threads`` threads (default 2): ``torch.set_num_threads``, ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``,
OpenBLAS (NumPy's BLAS), numba, onnxruntime's intra-op pool and handgrad's kernel team (``HANDGRAD_NUM_THREADS``),
all set before the libraries load.

Timing: the frameworks run in the same process, in alternating blocks of steps (the order swaps every
round), so that both see the same machine state; each round gives one images/s figure per framework and
their ratio; the table shows the medians over the rounds (and the range of the ratio).

GEMM limit: the training step's FLOPs per image (the matrix products of im2col convolution and the dense
layers, forward and backward: ``2*M*K*N`` each; the first conv has no input gradient) divided into the NumPy
float32 GEMM peak, the highest rate ``np.matmul`` reaches in this run on the network's im2col product shapes at that
batch size (forward, weight-gradient and input-gradient products of both convolutions, full batch, with
NumPy's BLAS at ``--threads`` threads; measured before, between and after the timings, best of all).
``% limit`` = images/s / (peak / FLOPs per image); inference uses the forward FLOPs. With Winograd
convolutions (``--algorithm``), a second limit counts the products that algorithm does instead (``2 * 36 * T
* C * F`` per pass, ``handgrad.kernels.winograd_transforms.matmul_flops``; the transforms are not counted) at the same
peak; ``hg %alg`` is handgrad's share of it. The header names NumPy's BLAS and its kernel architecture
(threadpoolctl) and the convolution algorithm of each handgrad layer.

Peak memory: for each framework, separate processes that import only that framework (plus NumPy) and
measure their peak resident set size (``VmHWM`` of ``/proc/self/status`` on Linux: ``ru_maxrss`` would
include this benchmark's own peak, which Linux carries across ``exec``; ``ru_maxrss`` elsewhere): ``warm``
builds the model, makes a batch of 128 and runs one training step at batch 2 (loads the JIT-compiled
kernels / initializes PyTorch's kernels); ``train`` does the same and then 3 training steps at batch 128.
``step = train - warm`` is the memory the batch-128 training step adds; ``train`` is the process's peak.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"1x28x28": (1, 28, 28), "3x32x32": (3, 32, 32)}
LR, MOMENTUM = 1e-3, 0.9  # lr 1e-2 makes both frameworks diverge to NaN on these random batches


def set_threads(n: int) -> None:
    """Thread counts of every library, before any of them loads (they read these once)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                "HANDGRAD_NUM_THREADS"):
        os.environ[var] = str(n)


# ---------------------------------------------------------------------------------------------- the two networks
def handgrad_model(shape, seed=0, algorithm="auto"):
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from handgrad.layers import Conv2D
    from handgrad.models import reference_cnn
    model = reference_cnn(input_shape=shape, seed=seed)
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            layer.algorithm = algorithm
    return model


def conv_algorithms(model) -> dict:
    """``{layer name: algorithm that runs}`` for handgrad's convolutions (``"auto"`` resolved)."""
    from handgrad.kernels import winograd_transforms as winograd
    from handgrad.layers import Conv2D
    out = {}
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            algorithm = layer.conv_algorithm
            if algorithm == "winograd":
                algorithm += " " + winograd.TRANSFORMS[layer.kernel_size[0]].name
            out[layer.name] = algorithm
    return out


def architecture(shape) -> list[dict]:
    """The reference network's layers as plain data (JSON-able, for the PyTorch-only memory process)."""
    spec = []
    for i, layer in enumerate(handgrad_model(shape).layers):
        kind = type(layer).__name__
        entry = {"kind": kind, "name": layer.name, "in": list(layer.input_shape), "out": list(layer.output_shape)}
        if kind == "Conv2D":
            g = layer.geometry
            entry.update(kernel=list(layer.kernel_size), stride=list(layer.stride), bias=layer.use_bias,
                         pad=[g.top, g.bottom, g.left, g.right], input_grad=i > 0)
        elif kind == "MaxPool2D":
            entry.update(pool=list(layer.pool_size), stride=list(layer.stride))
        elif kind == "ELU":
            entry.update(alpha=layer.alpha)
        elif kind == "Dense":
            entry.update(bias=layer.use_bias)
        elif kind != "Flatten":
            raise ValueError(f"benchmark: no PyTorch twin for {kind}")
        spec.append(entry)
    return spec


def torch_model(arch, weights=None):
    """The same network in PyTorch; ``weights``: handgrad's ``get_weights()`` (same layouts, Dense W transposed)."""
    import torch
    from torch import nn
    modules, named = [], []
    for e in arch:
        if e["kind"] == "Conv2D":
            top, bottom, left, right = e["pad"]
            symmetric = top == bottom and left == right
            if not symmetric:
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
            module = nn.Conv2d(e["in"][0], e["out"][0], tuple(e["kernel"]), stride=tuple(e["stride"]),
                               padding=(top, left) if symmetric else 0, bias=e["bias"])
            named.append((module, e["name"]))
        elif e["kind"] == "Dense":
            module = nn.Linear(e["in"][0], e["out"][0], bias=e["bias"])
            named.append((module, e["name"]))
        else:
            module = {"ELU": lambda e=e: nn.ELU(e.get("alpha", 1.0)), "Flatten": nn.Flatten,
                      "MaxPool2D": lambda e=e: nn.MaxPool2d(tuple(e["pool"]), tuple(e["stride"]))}[e["kind"]]()
        modules.append(module)
    net = nn.Sequential(*modules)
    if weights is not None:
        with torch.no_grad():
            for module, name in named:
                w = weights[f"{name}.W"]
                module.weight.copy_(torch.from_numpy(w.T.copy() if w.ndim == 2 else w))
                if module.bias is not None:
                    module.bias.copy_(torch.from_numpy(weights[f"{name}.b"]))
    return net


def handgrad_runner(model, x, y):
    """``(train_step, infer)`` closures for handgrad."""
    from handgrad.losses import softmax_cross_entropy
    from handgrad.optim import Momentum
    params = model.parameters()
    optimizer = Momentum(lr=LR, momentum=MOMENTUM)

    def train_step():
        logits = model.forward(x, training=True)
        _, dlogits = softmax_cross_entropy(logits, y)
        model.backward(dlogits)
        optimizer.step(params, model.gradients())

    def infer():
        model.forward(x, training=False)

    return train_step, infer


def torch_runner(net, x, y):
    import torch
    import torch.nn.functional as F
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        optimizer.step()

    def infer():
        with torch.inference_mode():
            net(x)

    return train_step, infer


def onnxruntime_runner(model, x, threads, directory):
    """``(infer, logits)`` for the model exported to ONNX and run by onnxruntime with ``threads`` threads."""
    from handgrad.export import onnx_export
    path = onnx_export.to_onnx(model, os.path.join(directory, "reference.onnx"))
    session = onnx_export.session(path, threads)
    feed = {onnx_export.INPUT: x}

    def infer():
        session.run([onnx_export.LOGITS], feed)

    return infer, session.run([onnx_export.LOGITS], feed)[0]


# ---------------------------------------------------------------------------------------------- FLOPs and GEMM peak
def product_shapes(arch, batch):
    """``[(name, M, K, N, in_training, in_inference)]``: the matrix products of one step, im2col convolution."""
    shapes = []
    for e in arch:
        name = e["name"]
        if e["kind"] == "Conv2D":
            (c, *_), (f, oh, ow) = e["in"], e["out"]
            M, K = batch * oh * ow, e["kernel"][0] * e["kernel"][1] * c
            shapes += [(f"{name} forward", M, K, f, True, True), (f"{name} dW", f, M, K, True, False)]
            if e["input_grad"]:
                shapes.append((f"{name} dx", M, f, K, True, False))
        elif e["kind"] == "Dense":
            n_in, n_out = e["in"][0], e["out"][0]
            shapes += [(f"{name} forward", batch, n_in, n_out, True, True),
                       (f"{name} dW", n_in, batch, n_out, True, False), (f"{name} dx", batch, n_out, n_in, True, False)]
    return shapes


def flops_per_image(arch, batch, training: bool, model=None) -> float:
    """Products' FLOPs per image (im2col); with ``model``, its Winograd convolutions count their own products."""
    winograd_flops = {}
    if model is not None:
        from handgrad.kernels import winograd_transforms as winograd
        winograd_flops = {layer.name: winograd.matmul_flops(batch, layer.input_shape[0], layer.filters, layer.geometry)
                          for layer in model.layers if getattr(layer, "conv_algorithm", None) == "winograd"}
    total = 0.0
    for name, M, K, N, in_training, in_inference in product_shapes(arch, batch):
        if in_training if training else in_inference:
            total += winograd_flops.get(name.split(" ")[0], 2 * M * K * N)
    return total / batch


def gemm_peak(arch, batch, repeats=5):
    """``(GFLOP/s, name)``: the fastest float32 ``np.matmul`` among the im2col product shapes of the convs."""
    import numpy as np
    rng = np.random.default_rng(0)
    best = (0.0, "")
    for name, M, K, N, _, _ in product_shapes(arch, batch):
        if not name.startswith("conv2d"):
            continue
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        out = np.empty((M, N), dtype=np.float32)
        np.matmul(a, b, out=out)
        t = min(_timed(lambda a=a, b=b, out=out: np.matmul(a, b, out=out)) for _ in range(repeats))
        best = max(best, (2 * M * K * N / t / 1e9, f"{name} ({M}x{K} @ {K}x{N})"))
    return best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ---------------------------------------------------------------------------------------------- interleaved timing
def interleaved(fns: dict, images_per_call: int, calls: int, rounds: int) -> dict:
    """``{name: [images/s per round]}``; each round runs ``calls`` calls of each function, order alternating."""
    names = list(fns)
    rates = {n: [] for n in names}
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            t = _timed(lambda n=n: [fns[n]() for _ in range(calls)])
            rates[n].append(images_per_call * calls / t)
    return rates


def benchmark(shape_name, batch, args):
    import numpy as np
    import torch
    shape = SHAPES[shape_name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    models = {a: handgrad_model(shape, algorithm=a) for a in args.algorithm}  # the same initial weights
    arch = architecture(shape)
    net = torch_model(arch, next(iter(models.values())).get_weights())
    first = next(iter(models.values()))
    reference_logits = first.forward(x, training=False)  # before any training step: the weights ORT was given
    with tempfile.TemporaryDirectory() as directory:
        ort_infer, ort_logits = onnxruntime_runner(first, x, args.threads, directory)
    ort_error = float(np.abs(ort_logits - reference_logits).max() / np.abs(reference_logits).max())
    runners = {a: handgrad_runner(m, x, y) for a, m in models.items()}
    th_train, th_infer = torch_runner(net, torch.from_numpy(x.copy()), torch.from_numpy(y))
    for fn in (*[f for r in runners.values() for f in r], th_train, th_infer, ort_infer):  # warm-up: JIT, caches
        for _ in range(3):
            fn()
    peaks = [gemm_peak(arch, batch)]
    rows = []
    for mode, index, calls in (("train", 0, args.train_calls), ("infer", 1, args.infer_calls)):
        fns = {a: r[index] for a, r in runners.items()}
        fns["PyTorch"] = th_train if mode == "train" else th_infer
        if mode == "infer":
            fns["onnxruntime"] = ort_infer
        rates = interleaved(fns, batch, calls, args.rounds)
        peaks.append(gemm_peak(arch, batch))  # measured between the timings too: the best of all counts
        for a in runners:
            ratios = [h / t for h, t in zip(rates[a], rates["PyTorch"])]
            rows.append({"input": shape_name, "batch": batch, "mode": mode, "algorithm": a,
                         "convs": conv_algorithms(models[a]),
                         "handgrad": statistics.median(rates[a]), "PyTorch": statistics.median(rates["PyTorch"]),
                         "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)})
            if mode == "infer":
                ort_ratios = [h / o for h, o in zip(rates[a], rates["onnxruntime"])]
                rows[-1].update(ORT=statistics.median(rates["onnxruntime"]), ort_ratio=statistics.median(ort_ratios),
                                ort_ratio_min=min(ort_ratios), ort_ratio_max=max(ort_ratios), ort_error=ort_error)
    peak, peak_shape = max(peaks)
    losses = {a: (final_loss_handgrad(m, x, y), final_loss_torch(net, x, y)) for a, m in models.items()}
    for row in rows:
        training, model = row["mode"] == "train", models[row["algorithm"]]
        row.update(peak=peak, peak_shape=peak_shape, losses=losses[row["algorithm"]],
                   limit=peak * 1e9 / flops_per_image(arch, batch, training),
                   limit_alg=peak * 1e9 / flops_per_image(arch, batch, training, model))
    return rows


def final_loss_handgrad(model, x, y) -> float:
    from handgrad.losses import softmax_cross_entropy
    return softmax_cross_entropy(model.forward(x), y)[0]


def final_loss_torch(net, x, y) -> float:
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        return float(F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)))


# ---------------------------------------------------------------------------------------------- peak memory
def memory_child(framework, shape_name, steps, arch):
    """Run in a fresh process: print the peak RSS (bytes) after warm-up and ``steps`` steps at batch 128.
    ``arch``: ``architecture(shape)`` (the PyTorch process does not import handgrad)."""
    import numpy as np
    shape = SHAPES[shape_name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, *shape), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    if framework == "handgrad":
        model = handgrad_model(shape)
        warm, _ = handgrad_runner(model, x[:2], y[:2])
        step, _ = handgrad_runner(model, x, y)
    else:
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        net = torch_model(arch)
        warm, _ = torch_runner(net, torch.from_numpy(x[:2].copy()), torch.from_numpy(y[:2]))
        step, _ = torch_runner(net, torch.from_numpy(x), torch.from_numpy(y))
    warm()
    for _ in range(steps):
        step()
    print(json.dumps({"peak": peak_rss()}))


def peak_rss() -> int:
    """Peak resident set size of this process, bytes: ``VmHWM`` on Linux, else ``ru_maxrss``.

    On Linux ``ru_maxrss`` carries the parent's peak across ``exec`` (it would report the benchmark's own
    peak); ``VmHWM`` is the same high-water mark for this process image only.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_memory(shape_name):
    result = {}
    arch = json.dumps(architecture(SHAPES[shape_name]))
    for framework in ("handgrad", "PyTorch"):
        figures = {}
        for label, steps in (("warm", 0), ("train", 3)):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", framework, shape_name,
                                  str(steps), arch], capture_output=True, text=True, check=True, env=os.environ.copy())
            figures[label] = json.loads(out.stdout.strip().splitlines()[-1])["peak"] / 2**20
        figures["step"] = figures["train"] - figures["warm"]
        result[framework] = figures
    return result


# ---------------------------------------------------------------------------------------------- report
def describe_machine(threads):
    import numpy as np
    import onnxruntime
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    sys.path.insert(0, os.path.join(ROOT, "src"))
    import handgrad
    from handgrad.kernels import backend
    return (f"CPU: {cpu}, {os.cpu_count()} logical CPUs; threads: {threads} (torch {torch.get_num_threads()}); "
            f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__}, "
            f"onnxruntime {onnxruntime.__version__}; "
            f"handgrad ({os.path.dirname(handgrad.__file__)}) kernels: {backend.active_kernels()}\n"
            f"NumPy's BLAS: {describe_blas()}")


def describe_blas() -> str:
    """NumPy's BLAS library, version and kernel architecture, from threadpoolctl (``OPENBLAS_CORETYPE`` too)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed: pip install threadpoolctl)"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "none found by threadpoolctl"
    parts = [f"{i.get('internal_api')} {i.get('version')}, kernels {i.get('architecture', '?')}, "
             f"{i.get('num_threads')} threads ({os.path.basename(i.get('filepath', ''))})" for i in blas]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    return "; ".join(parts) + (f"; OPENBLAS_CORETYPE={coretype}" if coretype else "")


def ort_columns(row) -> str:
    """``ORT hg/ORT (range)`` of an inference row; blanks for training (onnxruntime runs inference only)."""
    if "ORT" not in row:
        return f"{'-':>7} {'-':>6} {'':11}"
    return f"{row['ORT']:7.0f} {row['ort_ratio']:6.2f} {row['ort_ratio_min']:5.2f}-{row['ort_ratio_max']:<5.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of fewer steps instead of 7")
    parser.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    parser.add_argument("--inputs", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--algorithm", nargs="+", default=["auto"], choices=["im2col", "winograd", "auto"],
                        help="handgrad's Conv2D algorithm; several: each timed against PyTorch in the same rounds "
                             "(default auto, Conv2D's default: Winograd on conv2 only; 'winograd' on every conv, "
                             "conv1 too, slow with 1-3 channels)")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.memory_child:
        framework, shape_name, steps, arch = args.memory_child
        return memory_child(framework, shape_name, int(steps), json.loads(arch))
    args.rounds, args.train_calls, args.infer_calls = (3, 3, 6) if args.quick else (7, 5, 10)

    import torch
    torch.set_num_threads(args.threads)
    print(describe_machine(args.threads))
    print(f"{args.rounds} interleaved rounds of {args.train_calls} training steps / {args.infer_calls} inference "
          "batches per framework; medians over rounds\n")
    header = (f"{'input':8} {'batch':>5} {'mode':5} {'algorithm':9} {'handgrad':>9} {'PyTorch':>9} {'ratio':>6} "
              f"{'(range)':>11} {'ORT':>7} {'hg/ORT':>6} {'(range)':>11} {'limit':>7} {'hg %lim':>7} {'pt %lim':>7} "
              f"{'lim alg':>7} {'hg %alg':>7}   GEMM peak")
    print(header)
    print("-" * len(header))
    losses, ort_errors = [], []
    for shape_name in args.inputs:
        for batch in args.batches:
            rows = benchmark(shape_name, batch, args)
            for row in rows:
                print(f"{row['input']:8} {row['batch']:5d} {row['mode']:5} {row['algorithm']:9} {row['handgrad']:9.0f} "
                      f"{row['PyTorch']:9.0f} {row['ratio']:6.2f} {row['ratio_min']:5.2f}-{row['ratio_max']:<5.2f} "
                      f"{ort_columns(row)} {row['limit']:7.0f} {100 * row['handgrad'] / row['limit']:6.0f}% "
                      f"{100 * row['PyTorch'] / row['limit']:6.0f}% {row['limit_alg']:7.0f} "
                      f"{100 * row['handgrad'] / row['limit_alg']:6.0f}%   {row['peak']:.0f} GFLOP/s, "
                      f"{row['peak_shape']}", flush=True)
            for row in rows[: len(args.algorithm)]:
                convs = ", ".join(f"{k}: {v}" for k, v in row["convs"].items())
                losses.append(f"  {shape_name} batch {batch:3d} {row['algorithm']:8}: {row['losses'][0]:.6f} / "
                              f"{row['losses'][1]:.6f}   ({convs})")
            ort_errors.append(f"  {shape_name} batch {batch:3d}: {rows[-1]['ort_error']:.1e}")
    print("\nimages/s; ratio = handgrad / PyTorch; ORT = onnxruntime on the exported file (inference), hg/ORT = "
          "handgrad / onnxruntime; limit = GEMM peak / FLOPs per image (images/s) of im2col "
          "convolutions; lim alg = the same with the algorithm's own products (Winograd: alpha^2 per tile, 64 "
          "for 5x5, 36 for 3x3)")
    print("training loss after the same steps from the same weights (handgrad / PyTorch):", *losses, sep="\n")
    print("onnxruntime's logits against handgrad's on the timed batch (max |difference| / max |logit|):", *ort_errors,
          sep="\n")
    if not args.no_memory:
        print("\nPeak memory, training at batch 128 (MiB, peak RSS of separate processes; step = train - warm):")
        print(f"{'input':8} {'framework':9} {'warm':>7} {'train':>7} {'step':>7}")
        for shape_name in args.inputs:
            for framework, f in peak_memory(shape_name).items():
                print(f"{shape_name:8} {framework:9} {f['warm']:7.1f} {f['train']:7.1f} {f['step']:7.1f}", flush=True)


if __name__ == "__main__":
    main()
