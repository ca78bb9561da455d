"""``handgrad tune``: search training settings with Optuna; ``handgrad tune report STUDY``: what it found.

Every ``handgrad train`` flag given fixes that setting for all trials; the others searched come from the
default space or ``--space FILE.toml`` (``handgrad.tuning.space``). Trials run in ``<out-dir>/<study>/``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from handgrad.cli.args import Parser, add_dataclass_arguments
from handgrad.config import TrainConfig

# TrainConfig fields that are not flags of `handgrad tune`: each trial's run is named by the study.
NOT_FLAGS = ("name",)
# Settings that may differ between the workers of one study (each machine has its own paths).
LOCAL_FIELDS = ("data_dir", "out_dir")
DEFAULT_HEARTBEAT = 30


def register(subparsers):
    p = subparsers.add_parser(
        "tune", help="search training settings (Optuna): on one machine, or several sharing a database",
        description="Run trials of 'handgrad train' whose settings Optuna samples, to maximize the best validation "
                    "accuracy; unpromising trials stop early (pruning). Every 'handgrad train' flag given fixes "
                    "that setting. Default search: --lr log 1e-4..3e-3, --weight-l2 0 or log 1e-6..1e-3, "
                    "--activity-l2 0 or log 1e-8..1e-3, --activity-on pre/post, --dropout 0..0.6. The study is kept "
                    "in --storage (default sqlite:///<out-dir>/<study>/study.db); the same command started again, "
                    "or on other machines with a shared --storage postgresql://..., continues the same study. "
                    "'handgrad tune report STUDY' writes the best configuration, a table and plots.",
        epilog="Examples: handgrad tune --study lr-act --trials 16 --epochs 3; "
               "handgrad tune report lr-act")
    p.add_argument("--study", default=None, metavar="NAME", help="study name (required): trials go to <out-dir>/NAME/")
    p.add_argument("--space", default=None, metavar="FILE.toml",
                   help="search space file ([fixed], [search.FIELD] tables or a [grid]; see the README)")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="finish when the study holds N finished (complete or pruned) trials, counting every worker's "
                        "(default for a [grid]: its size)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="start no new trial after SECONDS (a running trial is finished)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="database URL, e.g. postgresql://user@host/db (default: sqlite:///<out-dir>/<study>/study.db)")
    p.add_argument("--pruner", choices=("median", "hyperband", "none"), default="median",
                   help="stop unpromising trials after an epoch (default: median)")
    p.add_argument("--heartbeat", type=int, default=DEFAULT_HEARTBEAT, metavar="SECONDS",
                   help="a running trial's heartbeat; a trial silent for 3 beats (its worker died) is retried "
                        f"(default: {DEFAULT_HEARTBEAT})")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (table rows only)")
    add_dataclass_arguments(p, TrainConfig, only=[f for f in TrainConfig.__dataclass_fields__ if f not in NOT_FLAGS])
    p.set_defaults(run=run)

    sub = p.add_subparsers(dest="action", metavar="report", parser_class=Parser)
    r = sub.add_parser("report", help="write the best configuration, a table of trials and plots",
                       description="Write <out-dir>/STUDY/report/: best.toml, best-command.txt (a ready 'handgrad "
                                   "train' command line), trials.csv, history.png and importance.png.")
    r.add_argument("report_study", metavar="STUDY", help="study name")
    r.add_argument("--storage", dest="report_storage", default=None, metavar="URL",
                   help="database URL (default: sqlite:///<out-dir>/STUDY/study.db)")
    r.add_argument("--out-dir", dest="report_out_dir", default="runs", metavar="DIR",
                   help="parent directory of the study's directory (default: runs)")
    r.add_argument("--out", dest="report_out", default=None, metavar="DIR",
                   help="where the report goes (default: <out-dir>/STUDY/report)")
    r.set_defaults(run=run_report)


def _quiet_optuna():
    import optuna

    # Optuna's own log lines (a trial finished, a trial failed with a traceback) would interleave with the
    # table; errors that stop the worker still reach the user through handgrad's one-line messages.
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def open_study(name: str, storage_url: str | None, out_dir, heartbeat: int = DEFAULT_HEARTBEAT, create=None):
    """Open study ``name`` (``create``: a dict of ``direction``/``sampler``/``pruner`` to create it if missing)."""
    import optuna

    from handgrad.tuning.storage import default_url, open_storage, redact

    url = storage_url or default_url(out_dir, name)
    storage = open_storage(url, heartbeat, create=create is not None)
    if create is None:
        try:
            return optuna.load_study(study_name=name, storage=storage), url
        except KeyError:
            known = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
            raise ValueError(f"no study {name!r} in {redact(url)} (studies there: {', '.join(known) or 'none'})") \
                from None
    return optuna.create_study(study_name=name, storage=storage, load_if_exists=True, **create), url


def check_same_space(study, description: dict) -> None:
    """Record the study's space when it is new; refuse to continue it with a different one."""
    saved = study.user_attrs.get("handgrad_space")
    if saved is None:
        study.set_user_attr("handgrad_space", description)
        return
    if saved != description:
        diffs = [k for k in ("kind", "searched", "fixed") if saved.get(k) != description.get(k)]
        raise ValueError(f"study {study.study_name!r} was started with other settings ({', '.join(diffs)} differ: "
                         f"it has {', '.join(f'{k}={saved.get(k)}' for k in diffs)}); continue it with the same "
                         "flags and --space, or choose another --study")


def run(args) -> int:
    from handgrad.cli.train import config_error
    from handgrad.tuning.objective import Objective
    from handgrad.tuning.progress import LiveTable
    from handgrad.tuning.space import DEFAULT_SPACE, load_space
    from handgrad.tuning.storage import check_study_name, redact
    from handgrad.tuning.worker import make_pruner, make_sampler, run_worker

    if args.study is None:
        raise ValueError("--study NAME is required (the study's name: trials go to <out-dir>/NAME/)")
    check_study_name(args.study)
    given = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__ if k not in NOT_FLAGS and hasattr(args, k)}
    try:
        TrainConfig(**given)  # the fixed flags are checked once, before any trial
    except (ValueError, TypeError) as e:
        print(f"handgrad tune: error: {config_error(str(e))}", file=sys.stderr)
        return 2
    space = (load_space(args.space) if args.space else DEFAULT_SPACE).with_fixed(given)
    out_dir = Path(space.fixed.get("out_dir", TrainConfig().out_dir))
    fixed_config = TrainConfig(**space.fixed)
    if fixed_config.validation_size < 1:
        raise ValueError("--validation-size must be >= 1 for tuning: the objective is the validation accuracy")
    n_trials = args.trials
    if n_trials is not None and n_trials < 1:
        raise ValueError(f"--trials must be >= 1, got {n_trials}")
    if args.timeout is not None and not args.timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    grid_size = space.grid_size()
    if grid_size is not None:
        if n_trials is not None and n_trials > grid_size:
            raise ValueError(f"--trials {n_trials} is more than the {grid_size} combinations of the [grid] in "
                             f"{args.space}")
        n_trials = n_trials or grid_size
    if n_trials is None and args.timeout is None:
        raise ValueError("give --trials N and/or --timeout SECONDS (when to stop)")

    _quiet_optuna()
    create = {"direction": "maximize", "sampler": make_sampler(space),
              "pruner": make_pruner(args.pruner, fixed_config.epochs)}
    study, url = open_study(args.study, args.storage, out_dir, args.heartbeat, create=create)
    check_same_space(study, space.describe(local=LOCAL_FIELDS))
    study_dir = out_dir / args.study
    table = LiveTable(args.study, n_trials, progress=not args.no_progress)
    table.write(f"study {args.study} in {redact(url)}; trials in {study_dir}/")
    table.write("searching: " + ", ".join(f"{k} {v}" for k, v in space.describe()["searched"].items()))
    shown = {k: v for k, v in space.fixed.items() if k != "out_dir"}
    if shown:
        table.write("fixed: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    objective = Objective(space, study_dir, n_trials=n_trials, progress=not args.no_progress, echo=table.write)
    try:
        run_worker(study, objective, n_trials=n_trials, timeout=args.timeout, table=table,
                   poll_seconds=min(args.heartbeat, 5))
        counts = table.update(study)
    except KeyboardInterrupt:
        table.close()
        print(f"\nhandgrad tune: interrupted; the study {args.study} is kept in {redact(url)}: continue it with "
              "the same command (the interrupted trial runs again first)", file=sys.stderr)
        return 130
    finally:
        table.close()
    from handgrad.tuning.progress import best_trial

    best = best_trial(study)
    best_text = f"best {best.value:.2%} (trial {best.number})" if best else "no complete trial"
    print(f"study {args.study}: {counts.finished} trials finished ({counts.complete} complete, {counts.pruned} "
          f"pruned), {counts.failed} failed; {best_text}. Report: handgrad tune report {args.study}"
          + (f" --out-dir {out_dir}" if str(out_dir) != "runs" else "")
          + (f" --storage {redact(url)}" if args.storage else ""))
    return 0


def run_report(args) -> int:
    from handgrad.tuning.report import write_report
    from handgrad.tuning.storage import check_study_name

    check_study_name(args.report_study)
    _quiet_optuna()
    out_dir = Path(args.report_out_dir)
    if args.report_storage is None and not (out_dir / args.report_study / "study.db").is_file():
        raise FileNotFoundError(f"no study {args.report_study!r} under {out_dir}: "
                                f"{out_dir / args.report_study / 'study.db'} does not exist (give --out-dir, or "
                                f"--storage URL for a shared study)")
    study, _ = open_study(args.report_study, args.report_storage, out_dir)
    write_report(study, Path(args.report_out) if args.report_out else out_dir / args.report_study / "report")
    return 0
