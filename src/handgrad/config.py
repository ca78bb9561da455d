"""``TrainConfig``: every setting of a training run. The CLI's ``handgrad train`` flags map onto its fields one
to one (``--weight-l2`` is ``weight_l2``), and each run saves it as ``config.json`` beside its results."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

from handgrad._validation import check_choice, check_int, check_number
from handgrad.optim import NAMES as OPTIMIZERS

DATASETS = ("fashion-mnist", "mnist", "cifar10")
SCHEDULES = ("constant", "step", "cosine")
# Fields that configure the reference network; they do not apply to a network of --model.
REFERENCE_FIELDS = ("weight_l2", "weight_l1", "activity_l2", "activity_l1", "activity_on", "dropout", "batchnorm")


def check_run_name(owner: str, name) -> str:
    """A run name is one path component: not empty, no ``/`` (or the OS's other separator), not ``.`` or ``..``,
    no NUL; ``<out-dir>/<name>`` then always lies inside ``<out-dir>``."""
    if not isinstance(name, str):
        raise TypeError(f"{owner}: name must be a string, got {name!r} ({type(name).__name__})")
    separators = [c for c in (os.sep, os.altsep, "/", "\0") if c]
    if name in ("", ".", "..") or any(c in name for c in separators):
        raise ValueError(f"{owner}: name must be a single directory name inside --out-dir (not empty, '.' or '..', "
                         f"no '/'), got {name!r}")
    return name


def _f(default, help, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    # ---- data
    dataset: str = _f("fashion-mnist", "data set", choices=DATASETS)
    data_dir: str | None = _f(None, "directory holding the data set's files (default: search the usual places)",
                              metavar="DIR")
    validation_size: int = _f(5000, "training images held out for validation (seeded)")
    # Quick studies (handgrad tune) on part of the data: the training split is in file order, which for the
    # MNISTs and CIFAR-10 is already shuffled, so the first N images are a fair sample.
    train_limit: int | None = _f(None, "train on the first N training images only (default: all)", metavar="N")
    augment: bool = _f(False, "random crop (padding 2 for 28x28 images, 4 for 32x32) and horizontal flip")
    # Off by default, so the measured default recipe stays what it was: a regularizer meant for long schedules.
    random_erasing: float = _f(0.0, "probability of setting a random box (area 0.02-0.33 of the image, aspect "
                                    "0.3-3.3) of each training image to 0, the data mean (Zhong et al. 2017; after "
                                    "--augment)",
                               metavar="P")
    # ---- model: handgrad.models.reference_cnn, or the user's own network
    model: str | None = _f(None, "your network instead of the reference one: FUNCTION(input_shape, num_classes) "
                                 "-> Sequential in FILE.py (the run keeps a copy)", metavar="FILE.py:FUNCTION")
    weight_l2: float = _f(0.0, "L2 kernel penalty, Keras's l2 * sum(W**2), on every Conv2D/Dense kernel")
    weight_l1: float = _f(0.0, "L1 kernel penalty l1 * sum(|W|) on every kernel")
    activity_l2: float = _f(0.0, "L2 activity penalty l2 * sum(y**2) / N on both conv outputs")
    activity_l1: float = _f(0.0, "L1 activity penalty l1 * sum(|y|) / N on both conv outputs")
    activity_on: str = _f("pre", "penalize the conv outputs before ('pre') or after ('post') ELU",
                          choices=("pre", "post"))
    # Dropout before each Dense layer regularizes the 803k-weight Dense(256) layer, which otherwise overfits
    # Fashion-MNIST within ~10 epochs.
    dropout: float = _f(0.5, "dropout rate before each Dense layer (0: no dropout)")
    batchnorm: bool = _f(False, "BatchNorm2D after each conv and BatchNorm1D after Dense(256), before ELU "
                                "(those layers then have no bias)")
    # ---- loss and evaluation
    # Off by default, so the data term is the plain cross-entropy the gradient checks and tests prove; validation
    # and test losses stay plain cross-entropy whatever it is, so runs with different EPS compare.
    label_smoothing: float = _f(0.0, "train against (1-EPS)*onehot + EPS/K (PyTorch's label_smoothing)",
                                metavar="EPS")
    # Off by default: it doubles the cost of every validation and test pass.
    tta_flip: bool = _f(False, "validate and test on the mean softmax of each image and its mirror image (for "
                               "classes a mirror keeps, as --augment's flip assumes)")
    # Off by default (the measured recipes have no average); with decay d it spans about 1/(1-d) steps and lags
    # behind the weights by as many, so it suits runs much longer than that.
    ema: float = _f(0.0, "decay of an exponential moving average of the weights, updated every step, that "
                         "validation, test and best.npz use (0: none; BatchNorm's moving statistics stay the "
                         "live ones)", metavar="DECAY")
    # ---- optimization
    epochs: int = _f(30, "training epochs")
    batch_size: int = _f(64, "minibatch size")
    optimizer: str = _f("adamw", "optimizer", choices=OPTIMIZERS)
    lr: float = _f(1e-3, "peak learning rate")
    momentum: float = _f(0.9, "momentum (momentum, nesterov)")
    # Decoupled decay (AdamW) regularizes as weight decay is meant to; an L2 penalty's gradient is rescaled
    # by Adam's per-parameter step sizes (Loshchilov & Hutter, 2019).
    weight_decay: float = _f(0.05, "decoupled weight decay of adamw (applied to kernels only)")
    schedule: str = _f("cosine", "learning-rate schedule", choices=SCHEDULES)
    warmup_epochs: float = _f(1.0, "linear learning-rate warm-up, in epochs")
    step_epochs: int = _f(10, "epochs between decays of the step schedule")
    gamma: float = _f(0.1, "decay factor of the step schedule")
    min_lr: float = _f(0.0, "final learning rate of the cosine schedule")
    clipnorm: float | None = _f(None, "clip the global gradient norm to this value (default: no clipping)")
    early_stopping: int = _f(0, "stop after this many epochs without a lower validation loss (0: never)")
    # ---- monitors
    penalty_warn_share: float = _f(0.5, "warn when a penalty exceeds this share of the total loss")
    dead_threshold: float = _f(1e-2, "|activation| below which a unit counts as near zero")
    # ---- run
    seed: int = _f(0, "seed of initialization, data split, shuffling, augmentation and dropout")
    out_dir: str = _f("runs", "parent directory of run directories", metavar="DIR")
    name: str | None = _f(None, "run name: results go to <out-dir>/<name> (default: <dataset>-<date>-<time>)",
                          metavar="NAME")

    def __post_init__(self):
        self.validate()

    def validate(self) -> "TrainConfig":
        """Check every field; the error names the field (as its CLI flag) and the value received."""
        o = "TrainConfig"
        check_choice(o, "dataset", self.dataset, DATASETS)
        check_int(o, "validation_size", self.validation_size, minimum=0)
        if self.train_limit is not None:
            check_int(o, "train_limit", self.train_limit, minimum=1)
        for name in ("weight_l2", "weight_l1", "activity_l2", "activity_l1", "weight_decay", "min_lr"):
            check_number(o, name, getattr(self, name), minimum=0.0)
        check_choice(o, "activity_on", self.activity_on, ("pre", "post"))
        check_number(o, "dropout", self.dropout, minimum=0.0, maximum=1.0, strict_max=True)
        check_number(o, "random_erasing", self.random_erasing, minimum=0.0, maximum=1.0)
        check_number(o, "label_smoothing", self.label_smoothing, minimum=0.0, maximum=1.0, strict_max=True)
        check_number(o, "ema", self.ema, minimum=0.0, maximum=1.0, strict_max=True)
        if not isinstance(self.tta_flip, bool):
            raise TypeError(f"{o}: tta_flip must be a bool, got {self.tta_flip!r} ({type(self.tta_flip).__name__})")
        check_int(o, "epochs", self.epochs, minimum=1)
        check_int(o, "batch_size", self.batch_size, minimum=1)
        check_choice(o, "optimizer", self.optimizer, OPTIMIZERS)
        check_number(o, "lr", self.lr, minimum=0.0, strict_min=True)
        check_number(o, "momentum", self.momentum, minimum=0.0, maximum=1.0, strict_max=True)
        check_choice(o, "schedule", self.schedule, SCHEDULES)
        check_number(o, "warmup_epochs", self.warmup_epochs, minimum=0.0)
        check_int(o, "step_epochs", self.step_epochs, minimum=1)
        check_number(o, "gamma", self.gamma, minimum=0.0, maximum=1.0, strict_min=True)
        if self.clipnorm is not None:
            check_number(o, "clipnorm", self.clipnorm, minimum=0.0, strict_min=True)
        check_int(o, "early_stopping", self.early_stopping, minimum=0)
        check_number(o, "penalty_warn_share", self.penalty_warn_share, minimum=0.0, maximum=1.0, strict_min=True)
        check_number(o, "dead_threshold", self.dead_threshold, minimum=0.0, strict_min=True)
        check_int(o, "seed", self.seed, minimum=0)
        # Cross-field checks: the message names both fields (as flags, see handgrad.cli.train.config_error).
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"{o}: warmup_epochs must be <= --epochs ({self.epochs}), got {self.warmup_epochs!r}: "
                             "the learning rate would never reach --lr")
        if self.min_lr > self.lr:
            raise ValueError(f"{o}: min_lr must be <= --lr ({self.lr!r}), got {self.min_lr!r}")
        if self.early_stopping and self.validation_size == 0:
            raise ValueError(f"{o}: early_stopping needs a validation set (--validation-size > 0), got "
                             f"{self.early_stopping} with --validation-size 0")
        if self.name is not None:
            check_run_name(o, self.name)
        if self.model is not None:
            from handgrad.model_source import parse_spec

            parse_spec(self.model)
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            changed = [k for k in REFERENCE_FIELDS if getattr(self, k) != defaults[k]]
            if changed:
                raise ValueError(f"TrainConfig: {changed[0]} configures the reference network; it does not apply "
                                 f"to --model {self.model}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {unknown}")
        return cls(**d)

    def build_model(self, input_shape, num_classes: int):
        """The reference network with this config's regularizers."""
        from handgrad.models import reference_cnn

        return reference_cnn(input_shape=input_shape, num_classes=num_classes, weight_l2=self.weight_l2,
                             weight_l1=self.weight_l1, activity_l2=self.activity_l2, activity_l1=self.activity_l1,
                             activity_on=self.activity_on, dropout=self.dropout, batchnorm=self.batchnorm,
                             seed=self.seed)
