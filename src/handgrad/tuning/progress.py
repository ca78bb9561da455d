"""The live view of a ``handgrad tune`` worker: a bar of the study's finished trials with the best so far, the
trainer's per-epoch bar below it, and one table row per trial as it ends (this worker's and the others')."""
from __future__ import annotations

import math
from dataclasses import dataclass

from tqdm.auto import tqdm


@dataclass
class Counts:
    """The study's trials by state: ``finished`` = complete + pruned (what ``--trials`` counts)."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned


def count_trials(study) -> Counts:
    from optuna.trial import TrialState

    names = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
             TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}
    counts = Counts()
    for t in study.get_trials(deepcopy=False):
        setattr(counts, names[t.state], getattr(counts, names[t.state]) + 1)
    return counts


def fmt_value(v) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return str(v)
    if isinstance(v, float):
        return "0" if v == 0 else f"{v:.3g}"
    return str(v)


def trial_note(t) -> str:
    """Why a trial ended as it did: diverged (the term), pruned at epoch E, surplus, retry of N, killed."""
    a = t.user_attrs
    notes = []
    if "diverged" in a:
        notes.append(f"diverged: {a['diverged']}")
    elif "pruned_at_epoch" in a:
        notes.append(f"pruned after epoch {a['pruned_at_epoch']}")
    if "surplus" in a:
        notes.append(f"not run: {a['surplus']}")
    retry_of = t.system_attrs.get("failed_trial")
    if retry_of is not None:
        notes.append(f"retry of trial {retry_of}")
    if t.state.name == "FAIL" and not notes:
        notes.append("failed (worker stopped or died)")
    return "; ".join(notes)


def trial_row(t) -> str:
    """``trial   7  COMPLETE  86.91%  ep 3  lr=0.0012 weight_l2=0 ...  41s  retry of trial 5``."""
    value = t.value if t.value is not None else (t.intermediate_values[max(t.intermediate_values)]
                                                 if t.intermediate_values else None)
    shown = "   -   " if value is None or not math.isfinite(value) else f"{value:7.2%}"
    params = " ".join(f"{k}={fmt_value(v)}" for k, v in t.params.items())
    seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start \
        else None
    took = f"{seconds:5.0f}s" if seconds is not None else "     -"
    note = trial_note(t)
    return (f"trial {t.number:4d}  {t.state.name:<8}  {shown}  ep {t.user_attrs.get('epochs_done', 0)}  {params}  "
            f"{took}" + (f"  ({note})" if note else ""))


class LiveTable:
    """What a worker shows while it runs: ``update(study)`` after every trial prints the rows of newly ended
    trials and moves the study bar; ``write`` prints a line above the bars."""

    def __init__(self, study_name: str, n_trials: int | None, progress: bool = True):
        self.progress = progress
        self.shown: set[int] = set()
        self.bar = tqdm(total=n_trials, desc=f"study {study_name}", unit="trial", position=0, leave=True,
                        disable=not progress, dynamic_ncols=True)

    def write(self, message: str) -> None:
        if self.progress:
            tqdm.write(message)
        else:
            print(message, flush=True)

    def update(self, study) -> Counts:
        from optuna.trial import TrialState

        ended = [t for t in study.get_trials(deepcopy=False)
                 if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) and t.number not in self.shown]
        for t in sorted(ended, key=lambda t: t.number):
            self.shown.add(t.number)
            self.write(trial_row(t))
        counts = count_trials(study)
        self.bar.n = counts.finished
        best = best_trial(study)
        postfix = f"best {best.value:.2%} (trial {best.number})" if best is not None else "best -"
        self.bar.set_postfix_str(f"{postfix}, {counts.running} running, {counts.pruned} pruned, "
                                 f"{counts.failed} failed", refresh=False)
        self.bar.refresh()
        return counts

    def close(self) -> None:
        self.bar.close()


def best_trial(study):
    """The complete trial with the highest value, or None (Optuna's ``best_trial`` raises when there is none)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None
