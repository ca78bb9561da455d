"""One trial of ``handgrad tune``: a ``handgrad train`` run whose settings come from the flags and the sampler.

The objective is the best validation accuracy over the run's epochs. After each epoch the validation
accuracy is reported to the trial (step = epoch) and the pruner may stop the run there. A run that diverges
(a loss term or gradient becomes NaN or infinite) is recorded as pruned, with the trainer's message naming
the term in the trial's user attribute ``diverged``; the study goes on.

Each trial records in its user attributes: ``seed``, ``run_dir``, ``worker`` (host:pid), ``config`` (the
complete ``TrainConfig``), ``epochs_done``, ``best_epoch``, and ``test_accuracy`` when it completes.
"""
from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import numpy as np

from handgrad.config import TrainConfig
from handgrad.tuning.space import SearchSpace

TRIAL_DIR = "trial-{:04d}"


class SurplusTrial(RuntimeError):
    """The study already had ``--trials`` trials done or running when this one was created (two workers asked
    at the same moment): the trial is closed as failed with user attribute ``surplus`` and runs nothing."""


def active_before(study, number: int) -> int:
    """Trials numbered below ``number`` that are done (complete, pruned), running or queued: all but failed."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False) if t.number < number and t.state != TrialState.FAIL)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Objective:
    """``objective(trial) -> best validation accuracy`` for ``study.optimize``.

    Args:
        space: the ``SearchSpace`` (its ``fixed`` values and the sampled ones make each trial's config).
        study_dir: trial ``n`` runs in ``study_dir / "trial-000n"`` (``TrainConfig.out_dir`` / ``name``).
        n_trials: the study's target (``--trials``), or None: a trial created beyond it is a ``SurplusTrial``.
        progress: show the trainer's per-epoch progress bar.
        echo: prints per-epoch lines (prefixed with the trial number).
    """

    def __init__(self, space: SearchSpace, study_dir, n_trials: int | None = None, progress: bool = True,
                 echo=print):
        self.space = space
        self.study_dir = Path(study_dir)
        self.n_trials = n_trials
        self.progress = progress
        self.echo = echo

    def config(self, values: dict, number: int) -> TrainConfig:
        """The trial's full config: fixed values, then the sampled ``values``; its run directory by number."""
        return TrainConfig(**{**self.space.fixed, **values, "out_dir": str(self.study_dir),
                              "name": TRIAL_DIR.format(number)})

    def __call__(self, trial) -> float:
        import optuna

        from handgrad.training import TrainingDiverged
        from handgrad.training.run import train

        if self.n_trials is not None and active_before(trial.study, trial.number) >= self.n_trials:
            trial.set_user_attr("surplus", f"the study already had {self.n_trials} trials")
            raise SurplusTrial(f"trial {trial.number}: the study already has {self.n_trials} trials")
        config = self.config(self.space.suggest(trial), trial.number)
        run_dir = Path(config.out_dir) / config.name
        # A retried trial starts with its failed original's attributes: each is set again here.
        for key, value in {"seed": config.seed, "run_dir": str(run_dir), "worker": worker_id(),
                           "config": config.to_dict(), "epochs_done": 0, "best_epoch": None}.items():
            trial.set_user_attr(key, value)
        best = {"accuracy": -math.inf, "epoch": None}

        def on_epoch_end(row):
            accuracy, epoch = row["val"]["accuracy"], row["epoch"]
            if accuracy > best["accuracy"]:
                best.update(accuracy=accuracy, epoch=epoch)
                trial.set_user_attr("best_epoch", epoch)
            trial.set_user_attr("epochs_done", epoch)
            trial.report(accuracy, step=epoch)
            if trial.should_prune():
                trial.set_user_attr("pruned_at_epoch", epoch)
                raise optuna.TrialPruned(f"validation accuracy {accuracy:.2%} at epoch {epoch} was not good enough")

        prefix = f"trial {trial.number}: "
        try:
            # A diverging run stops at the trainer's NaN guard; the overflow warnings on the way say nothing more.
            with np.errstate(over="ignore", invalid="ignore"):
                metrics = train(config, progress=self.progress, echo=lambda m: self.echo(prefix + m),
                                on_epoch_end=on_epoch_end)
        except TrainingDiverged as e:
            trial.set_user_attr("diverged", str(e))
            raise optuna.TrialPruned(f"diverged: {e}") from None
        except KeyboardInterrupt:
            # Ctrl-C: this trial is closed as failed by Optuna; queue its parameters so that continuing the
            # study (the same command again) runs this configuration first.
            requeue(trial)
            raise
        trial.set_user_attr("test_accuracy", metrics["test_accuracy"])
        return best["accuracy"]


def requeue(trial) -> None:
    """Queue a copy of ``trial``'s parameters (a waiting trial, as Optuna's retry of a dead worker's trial)."""
    import optuna

    frozen = trial.study._storage.get_trial(trial._trial_id)
    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)(trial.study, frozen)
