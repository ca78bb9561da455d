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


def build_model(path, ckpt):
    """The trained model of ``ckpt``; every way the checkpoint can disagree with itself is a ValueError naming it
    (its meta is checked by ``training.runfiles.check_meta``, its arrays must be finite)."""
    from handgrad.config import TrainConfig
    from handgrad.errors import RunFileError
    from handgrad.training.checkpoint import check_finite
    from handgrad.training.run import model_of_checkpoint
    from handgrad.training.runfiles import check_meta

    meta = check_meta(path, ckpt.meta)
    # The run's name does not matter here (and older versions accepted names such as "a/b").
    config = TrainConfig.from_dict({**meta["config"], "name": None})
    check_finite(path, ckpt)
    try:
        model = model_of_checkpoint(path, ckpt, config)  # a --model run's network comes from its run directory
    except (ValueError, TypeError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)  # str(KeyError) adds quotes
        named = message if message.startswith(f"checkpoint {path}") else f"checkpoint {path}: {message}"
        raise RunFileError(named) from e
    return config, model


def check_result(path, result: dict, split: str, n: int) -> None:
    """NonFiniteError when the loss of a (finite) checkpoint is not finite on the data: its weights overflow."""
    from handgrad.errors import NonFiniteError

    bad = [k for k in ("data", "weight", "activity", "total") if not np.isfinite(result[k])]
    if bad:
        raise NonFiniteError(f"checkpoint {path}: its {bad[0]} loss on the {n:,} {split} images is {result[bad[0]]} "
                             "(the network overflows on this data); no result is reported")


def run(args) -> int:
    from handgrad import datasets
    from handgrad.training import evaluate, load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    config, model = build_model(args.checkpoint, ckpt)
    if ckpt.ema:  # last.npz of an --ema run: evaluate the averaged weights, as the run did
        model.set_weights(ckpt.ema)
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
        if config.validation_size == 0:
            raise ValueError(f"checkpoint {args.checkpoint}: its run was trained with --validation-size 0, so it has "
                             "no validation split; evaluate --split test")
        data = datasets.prepare(config.dataset, validation_size=config.validation_size, seed=config.seed,
                                data_dir=data_dir)
        x, y = data.x_val, data.y_val
    if len(x) == 0:
        raise ValueError(f"the {args.split} split of {config.dataset} is empty: nothing to evaluate")
    with np.errstate(all="ignore"):  # an overflow is reported once, as the error below, not as NumPy warnings
        result = evaluate(model, x, y, tta_flip=config.tta_flip)  # as the run measured its test accuracy
    check_result(args.checkpoint, result, args.split, len(x))
    matrix = confusion_matrix(y, result["predictions"], len(meta["class_names"]))
    if args.json:
        loss = {k: result[k] for k in ("total", "data", "weight", "activity")}
        print(json.dumps({"accuracy": result["accuracy"], "loss": loss, "class_names": meta["class_names"],
                          "confusion_matrix": matrix.tolist()}, indent=2, allow_nan=False))
    else:
        print(f"checkpoint {args.checkpoint} (epoch {ckpt.epoch}), {config.dataset} {args.split} split")
        print(format_report(result["accuracy"], meta["class_names"], matrix))
    return 0
