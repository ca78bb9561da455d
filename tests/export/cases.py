"""The export tests' registry: one entry per layer type and setting, plus the reference network with and
without BatchNorm. Every model is trained a few SGD steps first, so that biases, BatchNorm's gamma and beta
and the moving statistics are not their initial values.

    python -m tests.export.cases     # prints the parity table of the README's "Export" section
"""
from __future__ import annotations

import numpy as np

import handgrad as hg
from handgrad.losses import softmax_cross_entropy
from handgrad.models import reference_cnn
from handgrad.optim import SGD

BATCHES = (1, 3, 16)  # random inputs of several batch sizes through one exported file: the batch axis is dynamic
RTOL = 1e-5  # max |exported - handgrad| <= RTOL * max |handgrad|, float32


def flat(layer):
    return lambda: [layer(), hg.Flatten()]


# id -> (layers factory, per-sample input shape); Sequential needs a flat output, hence the Flatten after 4-D layers
CASES = {
    "Conv2D same stride 1": (flat(lambda: hg.Conv2D(4, 3)), (3, 9, 9)),
    "Conv2D same stride 2 (asymmetric pads)": (flat(lambda: hg.Conv2D(4, 4, stride=2)), (3, 9, 8)),
    "Conv2D valid stride (2, 1)": (flat(lambda: hg.Conv2D(4, (3, 2), stride=(2, 1), padding="valid")), (2, 9, 7)),
    "Conv2D padding 2": (flat(lambda: hg.Conv2D(4, 3, padding=2)), (2, 6, 6)),
    "Conv2D padding (1, 2) stride 3": (flat(lambda: hg.Conv2D(3, (5, 3), stride=3, padding=(1, 2))), (2, 11, 10)),
    "Conv2D no bias": (flat(lambda: hg.Conv2D(4, 3, use_bias=False)), (3, 7, 7)),
    "Conv2D im2col 5x5": (flat(lambda: hg.Conv2D(8, 5, algorithm="im2col")), (16, 12, 12)),
    "Conv2D winograd 5x5": (flat(lambda: hg.Conv2D(8, 5, algorithm="winograd")), (16, 12, 12)),
    "Conv2D winograd 3x3": (flat(lambda: hg.Conv2D(8, 3, algorithm="winograd")), (16, 10, 10)),
    **{f"Conv2D + {act}": (flat(lambda act=act: hg.Conv2D(4, 3, activation=act)), (2, 7, 7))
       for act in ("elu", "relu", "leaky_relu", "tanh", "sigmoid")},
    "Dense": (lambda: [hg.Dense(7)], (12,)),
    "Dense no bias + tanh": (lambda: [hg.Dense(7, use_bias=False, activation="tanh")], (12,)),
    "MaxPool2D 2": (flat(lambda: hg.MaxPool2D(2)), (3, 9, 8)),
    "MaxPool2D 3 stride 2": (flat(lambda: hg.MaxPool2D(3, stride=2)), (3, 9, 9)),
    "AvgPool2D 2": (flat(lambda: hg.AvgPool2D(2)), (3, 9, 8)),
    "AvgPool2D (3, 2) stride (1, 2)": (flat(lambda: hg.AvgPool2D((3, 2), stride=(1, 2))), (2, 7, 8)),
    "Flatten": (lambda: [hg.Flatten()], (2, 3, 4)),
    "ELU alpha 0.5": (flat(lambda: hg.ELU(alpha=0.5)), (2, 5, 5)),
    "ReLU": (flat(hg.ReLU), (2, 5, 5)),
    "LeakyReLU 0.1": (flat(lambda: hg.LeakyReLU(0.1)), (2, 5, 5)),
    "Tanh": (flat(hg.Tanh), (2, 5, 5)),
    "Sigmoid": (flat(hg.Sigmoid), (2, 5, 5)),
    "BatchNorm2D": (flat(lambda: hg.BatchNorm2D(momentum=0.8)), (3, 5, 5)),
    "BatchNorm1D": (lambda: [hg.BatchNorm1D(momentum=0.7, epsilon=1e-5)], (6,)),
    "LayerNorm (C, H, W)": (flat(lambda: hg.LayerNorm()), (3, 5, 4)),
    "LayerNorm (features,) epsilon 1e-3": (lambda: [hg.LayerNorm(epsilon=1e-3)], (7,)),
    "GroupNorm 3 groups": (flat(lambda: hg.GroupNorm(3)), (6, 5, 4)),
    "GroupNorm 1 group (features,)": (lambda: [hg.GroupNorm(1, epsilon=1e-3)], (6,)),
    "GroupNorm instance (groups = C)": (flat(lambda: hg.GroupNorm(4)), (4, 3, 5)),
    "Dropout": (flat(lambda: hg.Dropout(0.5)), (2, 4, 4)),
    "ActivityRegularization": (flat(lambda: hg.ActivityRegularization(l1=0.01, l2=0.01)), (2, 4, 4)),
}
REFERENCE = {"reference network": dict(batchnorm=False),
             "reference network, BatchNorm + Dropout": dict(batchnorm=True, dropout=0.3)}
ALL = [*CASES, *REFERENCE]


def trained(case: str, steps: int = 3) -> hg.Sequential:
    """The case's model after ``steps`` SGD steps on random data (training mode: dropout on, statistics move)."""
    if case in REFERENCE:
        model, shape = reference_cnn(seed=1, **REFERENCE[case]), (1, 28, 28)
    else:
        factory, shape = CASES[case]
        model = hg.Sequential(factory(), input_shape=shape, seed=1)
    rng = np.random.default_rng(2)
    optimizer = SGD(lr=0.01)
    for _ in range(steps):
        x = rng.standard_normal((8, *shape), dtype=np.float32) + 0.5  # a mean: moving_mean leaves 0
        y = rng.integers(0, model.num_classes, 8)
        _, dlogits = softmax_cross_entropy(model.forward(x, training=True), y)
        model.backward(dlogits)
        optimizer.step(model.parameters(), model.gradients())
    return model


def inputs(model, batch: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed + batch).standard_normal((batch, *model.input_shape), dtype=np.float32)


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """``max |out - ref| / max |ref|``: the error on the scale of the logits (elementwise relative errors blow
    up at logits near 0)."""
    return float(np.abs(out.astype(np.float64) - ref).max() / np.abs(ref).max())


def parity_table(tmp_dir) -> list[tuple[str, float, float]]:
    """``[(case, onnxruntime error, to_torch error)]``, the worst over ``BATCHES``."""
    import torch

    from handgrad.export import run_onnx, to_onnx, to_torch

    rows = []
    for case in ALL:
        model = trained(case)
        path = to_onnx(model, f"{tmp_dir}/model.onnx")
        net = to_torch(model)
        errors = []
        for batch in BATCHES:
            x = inputs(model, batch)
            ref = model.forward(x, training=False)
            with torch.no_grad():
                errors.append((relative_error(run_onnx(path, x)["logits"], ref),
                               relative_error(net(torch.from_numpy(x)).numpy(), ref)))
        rows.append((case, max(e[0] for e in errors), max(e[1] for e in errors)))
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("| layer / network | onnxruntime | to_torch |\n|---|---|---|")
        for case, onnx_error, torch_error in parity_table(tmp):
            print(f"| {case} | {onnx_error:.1e} | {torch_error:.1e} |")
