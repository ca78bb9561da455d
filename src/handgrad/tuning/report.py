"""``handgrad tune report STUDY``: what a study found, as files in ``<out_dir>/<study>/report/``.

- ``best.toml``: the best trial's complete ``TrainConfig``, one ``field = value`` per line (unset optional
  fields as comments); ``TrainConfig.from_dict(tomllib.load(f))`` rebuilds it.
- ``best-command.txt``: the same configuration as a ready ``handgrad train`` command line (flags that differ
  from the defaults).
- ``trials.csv``: every trial: number, state, value, parameters, seed, epochs, duration, worker, run
  directory and why it ended (diverged, pruned, retried).
- ``history.png``: the optimization history (each trial's value and the best so far).
- ``importance.png``: parameter importances (Optuna's PED-ANOVA evaluator: NumPy only, no scikit-learn),
  when at least two complete trials differ.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import shlex
from pathlib import Path

from handgrad._atomic import atomic_write_text
from handgrad.config import TrainConfig
from handgrad.tuning.progress import best_trial, trial_note, trial_row

# Fields the command line leaves out: the run's name and place are the user's to choose.
NOT_IN_COMMAND = ("name", "out_dir")


def toml_value(value) -> str:
    """A TOML literal for a config value (str, bool, int, float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"best.toml: {value!r} has no TOML form here")
        return repr(value) if ("." in repr(value) or "e" in repr(value)) else repr(value) + ".0"
    return repr(int(value))


def config_toml(config: TrainConfig, header: str = "") -> str:
    lines = [f"# {line}" for line in header.splitlines()]
    for f in dataclasses.fields(TrainConfig):
        value = getattr(config, f.name)
        lines.append(f"# {f.name} = (not set)" if value is None else f"{f.name} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def train_command(config: TrainConfig, name: str | None = None) -> str:
    """``handgrad train --flag value ...`` for the fields of ``config`` that differ from the defaults."""
    default = TrainConfig()
    args = ["handgrad", "train"]
    for f in dataclasses.fields(TrainConfig):
        value = getattr(config, f.name)
        if f.name in NOT_IN_COMMAND or value == getattr(default, f.name) or value is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            args += [flag, repr(value) if isinstance(value, float) else str(value)]
    if name:
        args += ["--name", name]
    return shlex.join(args)


def trial_config(t) -> TrainConfig:
    return TrainConfig.from_dict(t.user_attrs["config"])


def trials_csv(trials) -> str:
    params = list(dict.fromkeys(k for t in trials for k in t.params))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["number", "state", "value", *params, "seed", "epochs_done", "best_epoch", "test_accuracy",
                     "seconds", "worker", "run_dir", "note"])
    for t in trials:
        a = t.user_attrs
        seconds = ((t.datetime_complete - t.datetime_start).total_seconds()
                   if t.datetime_complete and t.datetime_start else "")
        writer.writerow([t.number, t.state.name, "" if t.value is None else t.value,
                         *[t.params.get(p, "") for p in params], a.get("seed", ""), a.get("epochs_done", ""),
                         a.get("best_epoch") or "", a.get("test_accuracy", ""), seconds, a.get("worker", ""),
                         a.get("run_dir", ""), trial_note(t)])
    return buf.getvalue()


def plot_history(trials, path: Path) -> Path:
    """Complete trials' values (dots), pruned trials' last reported values (crosses), best so far (line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4))
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    pruned = [t for t in trials if t.state.name == "PRUNED" and t.intermediate_values]
    ax.plot([t.number for t in complete], [t.value for t in complete], "o", label="complete")
    if pruned:
        ax.plot([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned], "x",
                color="grey", label="pruned (last reported)")
    best, xs, ys = -math.inf, [], []
    for t in sorted(complete, key=lambda t: t.number):
        best = max(best, t.value)
        xs.append(t.number)
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="C3", label="best so far")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy")
    ax.set_title("optimization history")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def importances(study) -> dict[str, float]:
    """``{param: importance}`` (sums to 1) from Optuna's PED-ANOVA evaluator, or {} when it cannot tell."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dict(optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()))
        except (RuntimeError, ValueError):  # too few complete trials, or none that differ
            return {}


def plot_importance(values: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(7, 1 + 0.4 * len(names)))
    ax.barh(names, [values[n] for n in names], color="C0")
    ax.set_xlabel("importance (PED-ANOVA, sums to 1)")
    ax.set_title("parameter importances")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(study, out: Path, echo=print) -> dict:
    """Write the report files into ``out``; print the table and the best command. Returns {name: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    if not trials:
        raise ValueError(f"study {study.study_name!r} has no trials yet")
    files = {"trials": atomic_write_text(out / "trials.csv", trials_csv(trials))}
    echo(f"study {study.study_name}: {len(trials)} trials")
    for t in trials:
        echo("  " + trial_row(t))
    files["history"] = plot_history(trials, out / "history.png")
    values = importances(study)
    if values:
        files["importance"] = plot_importance(values, out / "importance.png")
        echo("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    else:
        echo("importance: not enough complete trials with different parameters to tell")
    best = best_trial(study)
    if best is None:
        echo("no complete trial yet: no best configuration")
        return files
    config = trial_config(best)
    command = train_command(config, name=f"{study.study_name}-best")
    header = (f"best trial {best.number} of study {study.study_name}: validation accuracy {best.value:.4f} "
              f"(epoch {best.user_attrs.get('best_epoch')}), run directory {best.user_attrs.get('run_dir')}\n"
              f"train it: {command}")
    files["best"] = atomic_write_text(out / "best.toml", config_toml(config, header))
    files["command"] = atomic_write_text(out / "best-command.txt", command + "\n")
    echo(f"best: trial {best.number}, validation accuracy {best.value:.2%}; train it with:\n  {command}")
    if config.train_limit is not None:
        echo("  (the study trained on part of the data: drop --train-limit, and raise --epochs, to train in full)")
    for name, path in files.items():
        echo(f"{name}: {path}")
    return files
