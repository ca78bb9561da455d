"""``handgrad evaluate CHECKPOINT``: accuracy, per-class accuracy and the confusion matrix."""
from __future__ import annotations

import json

import numpy as np


def register(subparsers):
    p = subparsers.add_parser("evaluate", help="evaluate a checkpoint on the test (or validation) split",
                              description="Evaluate a checkpoint written by 'handgrad train': accuracy, "
                                          "per-class accuracy and confusion matrix.")
    p.add_argument("checkpoint", help="a checkpoint file (runs/<name>/checkpoints/last.npz or best.npz)")
    p.add_argument("--split", choices=("test", "val"), default="test", help="data split (default: test)")
    p.add_argument("--data-dir", default=None, help="directory holding the data set's files")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``m[i, j]``: images of class ``i`` predicted as ``j``."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def format_report(accuracy: float, names, matrix: np.ndarray) -> str:
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    width = max(len(n) for n in names)
    lines = [f"accuracy {accuracy:.2%} on {matrix.sum():,} images", "", "per-class accuracy:"]
    lines += [f"  {n.ljust(width)}  {a:.2%}" for n, a in zip(names, per_class)]
    lines += ["", "confusion matrix (rows: true class, columns: predicted):",
              " " * (width + 2) + "".join(f"{i:>6}" for i in range(len(names)))]
    lines += [f"  {n.ljust(width)}" + "".join(f"{v:>6}" for v in row) + f"   {i}" for i, (n, row) in
              enumerate(zip(names, matrix))]
    return "\n".join(lines)


def run(args) -> int:
    from handgrad import datasets
    from handgrad.config import TrainConfig
    from handgrad.training import evaluate, load_checkpoint
    from handgrad.training.run import model_of_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    meta = ckpt.meta
    config = TrainConfig.from_dict(meta["config"])
    model = model_of_checkpoint(args.checkpoint, ckpt)  # a --model run's network comes from its run directory
    if args.split == "test":
        x, y = datasets.load(config.dataset, "test", data_dir=args.data_dir or config.data_dir)
        mean = np.asarray(meta["normalization"]["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(meta["normalization"]["std"], dtype=np.float32).reshape(1, -1, 1, 1)
        x = (x - mean) / std
    else:
        data = datasets.prepare(config.dataset, validation_size=config.validation_size, seed=config.seed,
                                data_dir=args.data_dir or config.data_dir)
        x, y = data.x_val, data.y_val
    result = evaluate(model, x, y)
    matrix = confusion_matrix(y, result["predictions"], len(meta["class_names"]))
    if args.json:
        loss = {k: result[k] for k in ("total", "data", "weight", "activity")}
        print(json.dumps({"accuracy": result["accuracy"], "loss": loss, "class_names": meta["class_names"],
                          "confusion_matrix": matrix.tolist()}, indent=2))
    else:
        print(f"checkpoint {args.checkpoint} (epoch {ckpt.epoch}), {config.dataset} {args.split} split")
        print(format_report(result["accuracy"], meta["class_names"], matrix))
    return 0
