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
    lines += [f"  {n.ljust(width)}" + "".join(f"{v:>6}" for v in row) for n, row in zip(names, matrix)]
    return "\n".join(lines)


# Fields of a checkpoint's meta that evaluate needs (written by 'handgrad train').
META_FIELDS = ("epoch", "config", "class_names", "input_shape", "normalization")


def check_meta(path, meta) -> None:
    """ValueError naming the checkpoint and the first missing or malformed field of its meta."""
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint {path}: its meta is a {type(meta).__name__}, not a dict; was it written by "
                         "'handgrad train'?")
    for key in META_FIELDS:
        if key not in meta:
            raise ValueError(f"checkpoint {path}: its meta lacks the field {key!r}; was it written by 'handgrad "
                             "train'?")
    norm = meta["normalization"]
    if not isinstance(norm, dict) or not {"mean", "std"} <= set(norm):
        raise ValueError(f"checkpoint {path}: its meta field 'normalization' must hold 'mean' and 'std', got {norm!r}")
    if not isinstance(meta["config"], dict):
        raise ValueError(f"checkpoint {path}: its meta field 'config' must be a dict, got {meta['config']!r}")
    if not isinstance(meta["class_names"], list) or not meta["class_names"]:
        raise ValueError(f"checkpoint {path}: its meta field 'class_names' must be a non-empty list, got "
                         f"{meta['class_names']!r}")


def check_finite(path, params: dict) -> None:
    """ValueError naming the first parameter with NaN or infinite entries (a diverged run's weights)."""
    for key, value in params.items():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            raise ValueError(f"checkpoint {path}: parameter {key} has {bad} non-finite (NaN or infinite) values of "
                             f"{np.size(value)}; the run diverged before this checkpoint: evaluate an earlier one "
                             "(best.npz)")


def build_model(path, ckpt):
    """The trained model of ``ckpt``; every way the checkpoint can disagree with itself is a ValueError naming it."""
    from handgrad.config import TrainConfig
    from handgrad.training.run import model_of_checkpoint

    meta = ckpt.meta
    check_meta(path, meta)
    try:
        # The run's name does not matter here (and older versions accepted names such as "a/b").
        config = TrainConfig.from_dict({**meta["config"], "name": None})
        check_finite(path, ckpt.params)
        model = model_of_checkpoint(path, ckpt, config)  # a --model run's network comes from its run directory
    except (ValueError, TypeError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)  # str(KeyError) adds quotes
        named = message if message.startswith(f"checkpoint {path}") else f"checkpoint {path}: {message}"
        raise ValueError(named) from e
    return config, model


def run(args) -> int:
    from handgrad import datasets
    from handgrad.training import evaluate, load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    config, model = build_model(args.checkpoint, ckpt)
    meta = ckpt.meta
    data_dir = args.data_dir
    if data_dir is None and config.data_dir is not None:
        data_dir = datasets.existing_data_dir(config.data_dir, what="--data-dir of the training run; pass "
                                                                     "--data-dir to use another")
    elif data_dir is not None:
        data_dir = datasets.existing_data_dir(data_dir)
    if args.split == "test":
        x, y = datasets.load(config.dataset, "test", data_dir=data_dir)
        mean = np.asarray(meta["normalization"]["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(meta["normalization"]["std"], dtype=np.float32).reshape(1, -1, 1, 1)
        x = (x - mean) / std
    else:
        data = datasets.prepare(config.dataset, validation_size=config.validation_size, seed=config.seed,
                                data_dir=data_dir)
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
