"""``Trainer``: minibatch training with progress, history, checkpoints, exact resume and a NaN guard."""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from handgrad.datasets import minibatches
from handgrad.errors import NonFiniteError, RunFileError
from handgrad.losses import log_softmax, softmax_cross_entropy
from handgrad.sequential import Sequential
from handgrad.training.checkpoint import check_finite, load_checkpoint, restore_model, save_checkpoint
from handgrad.training.ema import WeightEMA
from handgrad.training.history import History
from handgrad.training.monitors import PenaltyMonitor
from handgrad.training.rundir import checkpoint_path
from handgrad.training.runfiles import check_progress


class TrainingDiverged(RuntimeError):
    """A loss term or gradient became NaN or infinite; the message names it and the last good checkpoint."""


def evaluate(model: Sequential, x, y, batch_size: int = 500, tta_flip: bool = False) -> dict:
    """Loss terms (means over ``x``) and accuracy in inference mode; also the predicted classes.

    ``tta_flip``: predict from ``p = (softmax(f(x)) + softmax(f(mirror(x)))) / 2`` (``mirror`` reverses W); the
    data term is then ``-mean log p[y]`` and the activity term the mean of both passes'.
    """
    sums = {"data": 0.0, "weight": 0.0, "activity": 0.0}
    predictions = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb, training=False)
        if tta_flip:
            logits, activity = _flip_averaged(model, xb, logits)  # log p ranks the classes as p does
            data = -float(np.sum(logits[np.arange(len(yb)), yb], dtype=np.float64)) / len(yb)
        else:
            data, _ = softmax_cross_entropy(logits, yb)
            _, activity = model.penalties()
        sums["data"] += data * len(xb)
        sums["activity"] += activity * len(xb)  # activity = sum R(y) / len(xb): weighting restores sum R(y)
        predictions[start : start + batch_size] = logits.argmax(axis=1)
    n = max(len(x), 1)
    result = {k: v / n for k, v in sums.items()}
    result["weight"] = model.penalties()[0] if len(x) else 0.0
    result["total"] = result["data"] + result["weight"] + result["activity"]
    result["accuracy"] = float(np.mean(predictions == y)) if len(x) else float("nan")
    result["predictions"] = predictions
    return result


def _flip_averaged(model: Sequential, xb, logits) -> tuple[np.ndarray, float]:
    """``(log p, activity)`` for ``evaluate(tta_flip=True)``: ``log p = logaddexp(log_softmax(logits),
    log_softmax(f(mirror(xb)))) - log 2`` (no underflow where both probabilities are tiny), shape ``(B, K)``."""
    _, activity = model.penalties()
    mirrored = model.forward(np.ascontiguousarray(xb[..., ::-1]), training=False)  # (B, K)
    _, activity_mirrored = model.penalties()
    logp = np.logaddexp(log_softmax(logits), log_softmax(mirrored)) - np.log(logits.dtype.type(2))
    return logp, (activity + activity_mirrored) / 2


class Trainer:
    """Trains ``model`` with ``optimizer`` on minibatches.

    Args:
        model: a ``Sequential``.
        optimizer: an optimizer with ``step(params, grads)``, ``state_dict()``, ``load_state_dict()``,
            ``current_lr()`` (``handgrad.optim``).
        batch_size: minibatch size (default 64).
        seed: epoch ``e`` shuffles (and augments) with ``np.random.default_rng([seed, e])``, so a resumed run
            sees exactly the batches of an uninterrupted one.
        augment: optional ``augment(xb, rng) -> xb`` applied to each training batch.
        run_dir: where ``history.json``/``history.csv`` and ``checkpoints/{last,best}.npz`` go (None: nowhere).
        early_stopping: stop after this many epochs without a lower validation data loss (0: never).
        progress: show a tqdm bar per epoch. echo: prints the per-epoch summary lines and warnings.
        monitor: the monitors' options (``warn_share``, ``dead_threshold``; see ``PenaltyMonitor``); None (the
            default) runs them with their default options, False switches them off.
        meta: extra JSON-able data saved in every checkpoint (e.g. the config and normalization).
        on_epoch_end: optional ``on_epoch_end(row)`` called after each epoch's history row, checkpoints and
            summary line are written (``handgrad tune`` reports and prunes there; an exception it raises stops
            ``fit`` with the epoch's files complete).
        label_smoothing: ``eps`` of the training loss's smoothed targets (default 0; see
            ``losses.softmax_cross_entropy``); validation stays plain cross-entropy.
        tta_flip: validate with ``evaluate(tta_flip=True)`` (default False).
        ema: decay of a ``WeightEMA`` of the parameters, updated after every step (default 0: none); validation
            and ``best.npz`` then use the averaged weights (``evaluation_weights``), ``last.npz`` holds both.

    After ``fit``, ``history`` holds one row per epoch; ``epoch`` counts completed epochs.
    """

    def __init__(self, model: Sequential, optimizer, *, batch_size: int = 64, seed: int = 0, augment=None,
                 run_dir=None, early_stopping: int = 0, progress: bool = True, echo=None, monitor=None,
                 meta: dict | None = None, on_epoch_end=None, label_smoothing: float = 0.0, tta_flip: bool = False,
                 ema: float = 0.0):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.seed = seed
        self.augment = augment
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.early_stopping = early_stopping
        self.progress = progress
        self.echo = echo or (lambda msg: tqdm.write(msg))
        self.monitor_options = {} if monitor is None else monitor
        self.monitor_enabled = monitor is not False
        self.meta = dict(meta or {})
        self.on_epoch_end = on_epoch_end
        self.label_smoothing = label_smoothing
        self.tta_flip = tta_flip
        self.ema = WeightEMA(ema) if ema else None
        self.history = History()
        self.epoch = 0
        self.best_val_loss = math.inf
        self.stale_epochs = 0
        self.stopped_early = False

    # ---------------------------------------------------------------- checkpoints
    @property
    def last_checkpoint(self) -> Path | None:
        return checkpoint_path(self.run_dir, "last") if self.run_dir else None

    @property
    def best_checkpoint(self) -> Path | None:
        return checkpoint_path(self.run_dir, "best") if self.run_dir else None

    def save_checkpoint(self, path, averaged: bool = False) -> Path:
        """``averaged``: the EMA weights as the parameters (``best.npz``); else the live ones plus ``ema/``."""
        meta = {**self.meta, "epoch": self.epoch, "history": self.history.rows,
                "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
                "stale_epochs": self.stale_epochs}
        ema = self.ema.averages if self.ema is not None and not averaged else None
        with self.evaluation_weights() if averaged else contextlib.nullcontext():
            return save_checkpoint(path, self.model.parameters(), self.optimizer.state_dict(), meta,
                                   state=self.model.states(), inside=self.run_dir, ema=ema)

    def evaluation_weights(self):
        """A context in which the model holds the weights it is evaluated with: the EMA's, if any."""
        return self.ema.applied(self.model.parameters()) if self.ema is not None else contextlib.nullcontext()

    def restore(self, path) -> None:
        """Continue from a checkpoint: weights, layer states (moving statistics, dropout generators), optimizer
        state, EMA weights, epoch and history."""
        ckpt = load_checkpoint(path)
        check_progress(path, ckpt.meta)  # a hand-edited epoch, history or best_val_loss is named, not a KeyError
        check_finite(path, ckpt, optimizer=True)
        restore_model(self.model, ckpt, path)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        if self.ema is not None:
            if not ckpt.ema:
                raise RunFileError(f"checkpoint {path} holds no EMA weights (ema/), but this run averages them")
            self.ema.load(ckpt.ema, self.model.parameters(), f"checkpoint {path}")
        self.epoch = ckpt.epoch
        self.history = History(ckpt.meta.get("history", []))
        best = ckpt.meta.get("best_val_loss")
        self.best_val_loss = math.inf if best is None else best
        self.stale_epochs = ckpt.meta.get("stale_epochs", 0)

    # ---------------------------------------------------------------- training
    def _diverged(self, what: str, value, step: int | None) -> TrainingDiverged:
        """``step`` None: after the epoch's last step."""
        last = self.last_checkpoint if self.last_checkpoint and self.last_checkpoint.exists() else None
        where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
        when = f"at epoch {self.epoch + 1}, " + (f"step {step}" if step is not None else "after its last step")
        return TrainingDiverged(f"training stopped: {what} is {value} {when}; {where}")

    def train_epoch(self, x, y) -> tuple[dict, dict]:
        """One pass over ``(x, y)``: ``(means, layer_penalties)``, the epoch means of the loss terms and accuracy
        (plus throughput, seconds and the last step's learning rate) and of each layer's penalties."""
        rng = np.random.default_rng([self.seed, self.epoch])
        params = self.model.parameters()
        sums = {"total": 0.0, "data": 0.0, "weight": 0.0, "activity": 0.0, "correct": 0}
        layer_sums: dict[str, np.ndarray] = {}
        seen = 0
        start = time.perf_counter()
        bar = tqdm(total=len(x), unit="img", desc=f"epoch {self.epoch + 1}", leave=False, disable=not self.progress,
                   dynamic_ncols=True)
        for step, (xb, yb) in enumerate(minibatches(x, y, self.batch_size, rng=rng, augment=self.augment), 1):
            terms, logits = self.model.forward_backward(xb, yb, training=True, label_smoothing=self.label_smoothing)
            for name in ("data", "weight", "activity"):
                value = getattr(terms, name)
                if not math.isfinite(value):
                    bar.close()
                    raise self._diverged(f"the {name} loss term", value, step)
            grads = self.model.gradients()
            for key, g in grads.items():
                if not np.isfinite(g).all():
                    bar.close()
                    raise self._diverged(f"the gradient of {key}", "not finite", step)
            for name, pair in terms.by_layer.items():
                layer_sums[name] = layer_sums.get(name, 0.0) + np.asarray(pair) * len(xb)
            lr = self.optimizer.current_lr()  # recorded: the history shows the epoch's last learning rate
            self.optimizer.step(params, grads)
            if self.ema is not None:
                self.ema.update(params)
            n = len(xb)
            seen += n
            for name, value in terms.as_dict().items():
                sums[name] += value * n
            sums["correct"] += int(np.sum(logits.argmax(axis=1) == yb))
            bar.update(n)
            if step % 10 == 0 or seen == len(x):
                bar.set_postfix_str(f"loss {sums['total'] / seen:.4f} (data {sums['data'] / seen:.4f} "
                                    f"weight {sums['weight'] / seen:.4f} act {sums['activity'] / seen:.4f}) "
                                    f"acc {sums['correct'] / seen:.3f}", refresh=False)
        bar.close()
        seconds = time.perf_counter() - start
        means = {k: v / seen for k, v in sums.items() if k != "correct"}
        means["accuracy"] = sums["correct"] / seen
        means["images_per_s"] = seen / seconds
        means["seconds"] = seconds
        means["lr"] = lr
        layer_means = {name: tuple(float(v) for v in total / seen) for name, total in layer_sums.items()}
        return means, layer_means

    def fit(self, x, y, validation_data=None, epochs: int = 1, x_monitor=None) -> History:
        """Train until ``epochs`` epochs are complete (counting those restored from a checkpoint).

        ``x_monitor``: images for the activation monitors (default: the first 256 validation or training images).
        """
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if x_monitor is None:
            x_monitor = (validation_data[0] if validation_data is not None and len(validation_data[0]) else x)[:256]
        monitor = (PenaltyMonitor(self.model, x_monitor, echo=self.echo, **self.monitor_options)
                   if self.monitor_enabled else None)
        while self.epoch < epochs and not self.stopped_early:
            train, layer_penalties = self.train_epoch(x, y)
            row = {"epoch": self.epoch + 1, "lr": train.pop("lr"), "train": train}
            if validation_data is not None and len(validation_data[0]):
                with self.evaluation_weights():
                    val = evaluate(self.model, *validation_data, tta_flip=self.tta_flip)
                val.pop("predictions")
                row["val"] = val
            if monitor is not None:
                try:
                    row["monitor"] = monitor.epoch_report(train, layer_penalties).to_dict()
                except NonFiniteError as e:  # the epoch's last weights overflow on the monitored batch
                    raise self._diverged("the forward pass of the monitored batch", f"not finite ({e})", None) from None
            self.epoch += 1
            self.history.append(row)
            improved = "val" in row and row["val"]["data"] < self.best_val_loss
            if improved:
                self.best_val_loss, self.stale_epochs = row["val"]["data"], 0
            elif "val" in row:
                self.stale_epochs += 1
            self.stopped_early = bool(self.early_stopping and self.stale_epochs >= self.early_stopping)
            if self.run_dir is not None:
                self.history.save(self.run_dir)
                # best.npz before last.npz: a run killed between the two resumes from the previous last.npz and
                # writes this epoch's best.npz again, so best.npz never lags behind the best_val_loss it records.
                if improved:
                    self.save_checkpoint(self.best_checkpoint, averaged=True)
                self.save_checkpoint(self.last_checkpoint)
            self.echo(self._summary_line(row, epochs))
            if self.stopped_early:
                self.echo(f"early stopping: no lower validation loss for {self.stale_epochs} epochs")
            if self.on_epoch_end is not None:
                self.on_epoch_end(row)
        return self.history

    @staticmethod
    def _summary_line(row, epochs) -> str:
        t = row["train"]
        line = (f"epoch {row['epoch']}/{epochs}  loss {t['total']:.4f} (data {t['data']:.4f} weight {t['weight']:.4f} "
                f"activity {t['activity']:.4f})  acc {t['accuracy']:.2%}")
        if "val" in row:
            line += f"  | val loss {row['val']['data']:.4f} acc {row['val']['accuracy']:.2%}"
        return line + f"  | lr {row['lr']:.2e}  {t['images_per_s']:.0f} img/s  {t['seconds']:.0f}s"

