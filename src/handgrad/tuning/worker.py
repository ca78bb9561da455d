"""A ``handgrad tune`` worker: open (or create) the study, then run trials until the study is done.

``--trials N`` counts the whole study's finished trials (complete + pruned), whichever worker ran them: N
workers started with ``--trials 16`` finish 16 trials together, and the same command on a finished study
extends it only when N is raised. A worker

1. runs a queued trial if there is one (a dead worker's trial put back by the heartbeat check, or one
   interrupted with Ctrl-C);
2. else starts a new trial while done + running + queued < N;
3. else waits for the running trials of other workers: each either finishes or, if its worker died, goes
   stale after the grace period, is marked failed and queued again (step 1), so no trial is lost;
4. stops when N trials are finished, or when ``--timeout`` seconds have passed (a running trial is finished
   first, as with Optuna's ``timeout``).

Two workers that start a trial at the same moment for the last slot both create one; the one with the higher
number sees the other and closes itself as ``SurplusTrial`` (failed, not run), so no trial is counted twice.
"""
from __future__ import annotations

import time
import warnings

from handgrad.tuning.objective import SurplusTrial
from handgrad.tuning.progress import LiveTable


def make_pruner(name: str, max_epochs: int):
    import optuna

    if name == "median":
        # 3 finished trials before pruning starts: few studies here run more than ~20 trials.
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"--pruner must be one of 'median', 'hyperband', 'none', got {name!r}")


def make_sampler(space):
    import optuna

    if space.grid is not None:
        return optuna.samplers.GridSampler(space.grid)
    # constant_liar: a trial running on another worker counts as a poor result, so that parallel workers do
    # not all sample next to the same promising point.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(constant_liar=True)


def run_worker(study, objective, *, n_trials: int | None, timeout: float | None, table: LiveTable,
               poll_seconds: float = 1.0, clock=time.monotonic) -> None:
    """Run trials of ``study`` with ``objective`` until it is done (see the module docstring)."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    start = clock()
    waiting_note = False
    while True:
        if timeout is not None and clock() - start >= timeout:
            table.write(f"--timeout {timeout:g} s reached: this worker starts no more trials")
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # dead workers' trials: failed, and queued again
        counts = table.update(study)
        if n_trials is not None and counts.finished >= n_trials:
            return
        if n_trials is None or counts.waiting or counts.finished + counts.running + counts.waiting < n_trials:
            waiting_note = False
            study.optimize(objective, n_trials=1, catch=(SurplusTrial,), gc_after_trial=False)
            continue
        if not waiting_note:
            table.write(f"waiting for {counts.running} running trial(s) of other workers "
                        f"({counts.finished} of {n_trials} done)")
            waiting_note = True
        time.sleep(poll_seconds)  # polling the database: its state is what other machines change
