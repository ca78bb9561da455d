"""A whole training run from a ``TrainConfig``: data, model, optimizer, trainer, run directory, test metrics.

Run directory ``<out_dir>/<name>/``:

- ``config.json``: the config used (a resumed run keeps it);
- ``config.sha256``: the SHA-256 of the settings a resumed run may not change (all but ``RESUMABLE_FIELDS``
  and ``name``), written by the first start: ``--resume`` refuses an edited ``config.json`` and names the
  fields that differ from the last checkpoint's;
- ``model.py``: with ``--model FILE.py:FUNCTION``, a copy of the file the network is built from (see
  ``handgrad.model_source``);
- ``history.json``, ``history.csv``: one row per epoch (loss terms, accuracy, learning rate, monitors);
- ``checkpoints/last.npz`` (every epoch) and ``checkpoints/best.npz`` (lowest validation loss; none without a
  validation set, and ``metrics.json``'s ``best_checkpoint`` is then null); with ``--ema``, ``best.npz`` holds the
  averaged weights as its parameters and ``last.npz`` the live ones plus the averages (``ema/``);
- ``metrics.json``: test accuracy and loss terms of the final model (its EMA weights with ``--ema``), written at
  the end (with ``--tta-flip`` also ``test_accuracy_without_tta``);
- ``.lock``: locked by the process running it, holds its pid (see ``rundir``).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from handgrad import datasets, model_source, optim
from handgrad._atomic import atomic_write_text
from handgrad.config import TrainConfig
from handgrad.errors import RunFileError
from handgrad.training import runfiles
from handgrad.training.checkpoint import Checkpoint, load_checkpoint, restore_model
from handgrad.training.rundir import CHECKPOINTS, checkpoint_path, claim_run_dir
from handgrad.training.trainer import Trainer, evaluate

# Flags that may change when a run is resumed; everything else must stay as the run started.
RESUMABLE_FIELDS = ("epochs", "early_stopping", "data_dir", "out_dir")
CHECKSUM_NAME = "config.sha256"


def build_optimizer(config: TrainConfig, steps_per_epoch: int, model):
    """The optimizer and learning-rate schedule of ``config`` (schedule lengths are in optimizer steps); AdamW
    decays the kernels of ``model`` (``model.kernel_names()``), not the biases."""
    schedule = optim.make_schedule(config.schedule, config.lr, total_steps=config.epochs * steps_per_epoch,
                                   warmup_steps=round(config.warmup_epochs * steps_per_epoch),
                                   step_size=config.step_epochs * steps_per_epoch, gamma=config.gamma,
                                   min_lr=config.min_lr)
    kwargs = {"lr": schedule, "clipnorm": config.clipnorm}
    if config.optimizer in ("momentum", "nesterov"):
        kwargs["momentum"] = config.momentum
    if config.optimizer == "adamw":
        kwargs["weight_decay"] = config.weight_decay
        kernels = set(model.kernel_names())
        kwargs["decay"] = lambda name: name in kernels  # kernels decay, biases do not
    return optim.get(config.optimizer, **kwargs)


def build_model(config: TrainConfig, input_shape, num_classes: int, run_dir, resume: bool = False):
    """``(model, source)``: the run's network and, with ``--model``, the record of its source file (None for the
    reference network). A new run copies the file into ``run_dir``; a resumed one builds from that copy."""
    if config.model is None:
        return config.build_model(input_shape, num_classes), None
    last = checkpoint_path(run_dir)
    if resume and last.exists():
        source = runfiles.check_meta(last, load_checkpoint(last).meta).get("model_source")
        if source is None:
            raise RunFileError(f"checkpoint {last}: its meta has no 'model_source', but the run's config.json says "
                               f"--model {config.model}")
    else:
        source = model_source.record(config.model, run_dir)
    return model_source.build_recorded(run_dir, source, input_shape, num_classes, as_origin=not resume), source


def model_of_checkpoint(path, ckpt: Checkpoint, config: TrainConfig | None = None):
    """The network of checkpoint ``path`` (of a run directory ``<run>/checkpoints/``) with its parameters and
    layer state loaded; ``config`` defaults to the one saved in the checkpoint."""
    meta = runfiles.check_meta(path, ckpt.meta)
    config = config if config is not None else TrainConfig.from_dict(meta["config"])
    input_shape, num_classes = tuple(meta["input_shape"]), len(meta["class_names"])
    source = meta.get("model_source")
    if source is None:
        model = config.build_model(input_shape, num_classes)
    else:
        model = model_source.build_recorded(run_dir_of_checkpoint(path, source), source, input_shape, num_classes)
    restore_model(model, ckpt, path)
    return model


def run_dir_of_checkpoint(path, source: dict) -> Path:
    """``<run>`` of ``<run>/checkpoints/NAME.npz``: the only place a --model run's network is built from."""
    path = Path(path).resolve()
    if path.parent.name != CHECKPOINTS:
        raise RunFileError(f"checkpoint {path} was trained with --model {source['origin']}: its network is built "
                           f"only from its run's own {model_source.COPY_NAME}, and the checkpoint must be in that "
                           f"run's checkpoints/ directory (RUN/checkpoints/{path.name}); copy the whole run directory")
    return path.parent.parent


def augmentation(config: TrainConfig, image_size: int):
    """``--augment`` (crop and flip), then ``--random-erasing`` (erasing the cropped image, as torchvision's
    ``RandomErasing`` after ``RandomCrop``); None when neither is on."""
    steps = []
    if config.augment:
        steps.append(datasets.RandomCropFlip(padding=2 if image_size <= 28 else 4, flip=True))
    if config.random_erasing:
        steps.append(datasets.RandomErasing(p=config.random_erasing))
    if not steps:
        return None
    return steps[0] if len(steps) == 1 else datasets.Compose(tuple(steps))


def default_name(config: TrainConfig) -> str:
    return f"{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


# Fields added after runs had recorded their checksums: left at their defaults they are not part of it, so a run
# started before they existed still resumes.
LATER_FIELDS = {"label_smoothing": 0.0, "random_erasing": 0.0, "tta_flip": False, "ema": 0.0}


def recipe_checksum(config: TrainConfig) -> str:
    """SHA-256 of the settings a resumed run may not change (all but ``RESUMABLE_FIELDS`` and ``name``, and
    ``LATER_FIELDS`` at their defaults)."""
    recipe = {k: v for k, v in config.to_dict().items() if k not in (*RESUMABLE_FIELDS, "name")
              and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def check_unedited(run_dir: Path, saved: TrainConfig) -> None:
    """RunFileError when ``config.json`` was edited since the run wrote it: its recipe differs from the last
    checkpoint's (naming the fields) or from the checksum the first start recorded."""
    path = run_dir / "config.json"
    last = checkpoint_path(run_dir)
    changed = []
    if last.exists():
        meta = runfiles.check_meta(last, load_checkpoint(last).meta)  # before the run directory is claimed
        recorded = runfiles.config_from_dict(f"checkpoint {last}: its meta field 'config'", meta["config"])
        changed = [f"{k}: {getattr(recorded, k)!r} -> {getattr(saved, k)!r}" for k in saved.to_dict()
                   if k not in (*RESUMABLE_FIELDS, "name") and getattr(recorded, k) != getattr(saved, k)]
    checksum = run_dir / CHECKSUM_NAME
    edited = bool(changed)
    if checksum.exists():
        text = runfiles.read_regular(checksum, 1024, CHECKSUM_NAME).decode("ascii", "replace").strip()
        edited = edited or text != recipe_checksum(saved)
    if edited:
        what = f" ({', '.join(changed)})" if changed else f" (its settings no longer match {checksum})"
        raise RunFileError(f"{path} was edited since the run wrote it{what}: a run's settings cannot change when it "
                           f"is resumed (only {', '.join('--' + k.replace('_', '-') for k in RESUMABLE_FIELDS)} may, "
                           "as flags of --resume); restore config.json, or start a new run")


def resume_config(run_dir, overrides: dict) -> TrainConfig:
    """The saved config of ``run_dir`` with the allowed ``overrides`` (``RESUMABLE_FIELDS``) applied; a damaged or
    edited ``config.json`` is a ``RunFileError`` naming the file and the fields."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: {path} does not exist")
    saved = runfiles.load_config(path)
    check_unedited(run_dir, saved)
    fixed = sorted(k for k, v in overrides.items() if k not in RESUMABLE_FIELDS and v != getattr(saved, k))
    if fixed:
        flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
        raise ValueError(f"cannot change {flags} when resuming (only "
                         f"{', '.join('--' + k.replace('_', '-') for k in RESUMABLE_FIELDS)} may change)")
    return replace(saved, **{k: v for k, v in overrides.items() if k in RESUMABLE_FIELDS})


def train(config: TrainConfig, *, resume: bool = False, run_dir=None, progress: bool = True, echo=print,
          on_epoch_end=None) -> dict:
    """Run ``config`` (or continue the run in ``run_dir`` when ``resume``) and return the final metrics.

    The run directory is claimed for the whole run (``rundir.claim_run_dir``: exclusive lock, writability
    checked before any data is loaded, an existing or unfinished run is never replaced by a new one). Resuming a
    run that has no checkpoint yet (it stopped during its first epoch) starts it from epoch 0 with its saved
    config, and says so: with the same seed that is exactly the run that was interrupted.

    ``on_epoch_end(row)``: called after each epoch (see ``Trainer``), e.g. to report to a tuner and prune.
    """
    run_dir = Path(run_dir) if run_dir is not None else Path(config.out_dir) / (config.name or default_name(config))
    check_before_start(config, resume)
    with claim_run_dir(run_dir, resume=resume, echo=echo):
        return _train(config, run_dir, resume, progress, echo, on_epoch_end)


def check_before_start(config: TrainConfig, resume: bool) -> None:
    """Everything that can be checked before a run directory is claimed: the data directory, the environment
    (``HANDGRAD_NUM_THREADS``), and a ``--model`` file (exists, compiles)."""
    from handgrad.kernels.threads import threads_from_env

    if config.data_dir is not None:
        datasets.existing_data_dir(config.data_dir)  # a typo is an error, not a download into a new directory
    threads_from_env()
    if config.model is not None and not resume:
        model_source.check_spec(config.model)


def _train(config: TrainConfig, run_dir: Path, resume: bool, progress: bool, echo, on_epoch_end) -> dict:
    last, best = checkpoint_path(run_dir, "last"), checkpoint_path(run_dir, "best")
    if resume and not last.exists():
        echo(f"{run_dir} has no checkpoint yet (it stopped during its first epoch): starting it again from "
             "epoch 0 with its saved config")
    start = time.perf_counter()
    data = datasets.prepare(config.dataset, validation_size=config.validation_size, seed=config.seed,
                            data_dir=config.data_dir)
    if config.train_limit is not None:  # a quick study on part of the data; validation and test stay whole
        data.x_train, data.y_train = data.x_train[:config.train_limit], data.y_train[:config.train_limit]
    input_shape = data.x_train.shape[1:]
    model, source = build_model(config, input_shape, len(data.class_names), run_dir, resume)
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    optimizer = build_optimizer(config, steps_per_epoch, model)
    meta = {"config": config.to_dict(), "class_names": list(data.class_names),
            "normalization": {"mean": np.asarray(data.mean).tolist(), "std": np.asarray(data.std).tolist()},
            "input_shape": list(input_shape), "model_source": source}
    trainer = Trainer(model, optimizer, batch_size=config.batch_size, seed=config.seed,
                      augment=augmentation(config, input_shape[-1]), run_dir=run_dir,
                      early_stopping=config.early_stopping, progress=progress, echo=echo,
                      monitor={"warn_share": config.penalty_warn_share, "dead_threshold": config.dead_threshold},
                      meta=meta, on_epoch_end=on_epoch_end, label_smoothing=config.label_smoothing,
                      tta_flip=config.tta_flip, ema=config.ema)
    if resume and last.exists():
        runfiles.check_meta(last, load_checkpoint(last).meta)
        trainer.restore(last)
        echo(f"resuming {run_dir} after epoch {trainer.epoch}")
    if not resume or not (run_dir / CHECKSUM_NAME).exists():
        atomic_write_text(run_dir / CHECKSUM_NAME, recipe_checksum(config) + "\n", inside=run_dir)
    atomic_write_text(run_dir / "config.json", config.to_json(), inside=run_dir)
    echo(f"training {model.param_count():,} parameters on {len(data.x_train):,} {config.dataset} images "
         f"({len(data.x_val):,} held out for validation); results in {run_dir}")
    trainer.fit(data.x_train, data.y_train, (data.x_val, data.y_val), epochs=config.epochs)
    with trainer.evaluation_weights():  # the EMA's with --ema
        test = evaluate(model, data.x_test, data.y_test, tta_flip=config.tta_flip)
        plain = evaluate(model, data.x_test, data.y_test)["accuracy"] if config.tta_flip else None
    test.pop("predictions")
    last_row = trainer.history.rows[-1]
    # No validation set (--validation-size 0): no epoch is "best", and no best.npz is written.
    metrics = {"test_accuracy": test["accuracy"], "test": test, "epochs": trainer.epoch,
               "stopped_early": trainer.stopped_early, "train_seconds_this_session": time.perf_counter() - start,
               "train_seconds_all_epochs": sum(r["train"]["seconds"] for r in trainer.history.rows),
               "final_train": last_row["train"], "final_val": last_row.get("val"),
               "penalty_share": {k: v for k, v in last_row.get("monitor", {}).items() if k.endswith("share")},
               "checkpoint": str(last), "best_checkpoint": str(best) if best.exists() else None}
    if config.tta_flip:  # what the mirror images add: the same model evaluated without them
        metrics["test_accuracy_without_tta"] = plain
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False), inside=run_dir)
    echo(f"test accuracy {test['accuracy']:.2%}  (loss {test['total']:.4f}: data {test['data']:.4f}, "
         f"weight {test['weight']:.4f}, activity {test['activity']:.4f}); metrics in {run_dir / 'metrics.json'}")
    return metrics
