"""``handgrad tune`` end to end on tiny IDX files: real training, real Optuna storages (SQLite files and a real
PostgreSQL server), real worker processes killed with SIGKILL or interrupted with SIGINT.

Every check reads an independent record: the study as Optuna stores it, and each trial's run directory as
``handgrad train`` wrote it (config.json, history.json), never the tuner's own summary.
"""
from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import time

import optuna
import pytest

from handgrad.cli import build_parser, main
from handgrad.config import TrainConfig
from handgrad.tuning.storage import default_url
from tests.tuning.conftest import TINY, by_state, load, worker_command, worker_env
from tests.tuning.postgres import postgres_server

FINISHED = ("COMPLETE", "PRUNED")
DEADLINE = 120  # seconds a test waits for a state of the study before it fails


def wait_for(condition, what: str, process=None):
    """Poll the storage until ``condition()`` is truthy; fail if ``process`` ended first or after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"worker exited with {process.returncode} before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class StudyReader:
    """``reader()``: the study's trials as stored now ([] until a worker has created the study); one storage
    (one connection pool) for all the polls of a test."""

    def __init__(self, study: str, url: str):
        self.name, self.url, self.study = study, url, None

    def __call__(self) -> list:
        if self.study is None:
            try:
                self.study = load(self.name, self.url)
            except (KeyError, ValueError):  # no study (or no database file) yet
                return []
        return self.study.get_trials()


def check_run_dirs(trials, out_dir, study):
    """Each finished trial ran in its own directory, with the config it was given and one history row per epoch
    it reported."""
    dirs = [t.user_attrs["run_dir"] for t in trials]
    assert len(set(dirs)) == len(dirs)
    for t in trials:
        run = out_dir / study / f"trial-{t.number:04d}"
        assert t.user_attrs["run_dir"] == str(run)
        config = json.loads((run / "config.json").read_text())
        for name, value in t.params.items():
            if not name.endswith("_zero"):
                assert config[name] == value, (t.number, name)
        # a run that diverged in its first epoch wrote no history, and reported nothing
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
        reported = [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
        assert [r["val"]["accuracy"] for r in history] == reported


# ------------------------------------------------------------------------------------------------ one study
SPACE = """
[fixed]
dropout = 0.0
weight_decay = 0.0

[search.lr]
low = 1e-7
high = 1e3
log = true

[search.optimizer]
choices = ["adamw", "sgd"]
"""
GOOD = [{"lr": 3e-3, "optimizer": "adamw"}, {"lr": 2e-3, "optimizer": "adamw"}, {"lr": 4e-3, "optimizer": "adamw"}]
DIVERGES = {"lr": 1e3, "optimizer": "sgd"}  # NaN loss within the first steps
BAD = {"lr": 1e-7, "optimizer": "adamw"}  # learns nothing: chance accuracy after epoch 1


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, tiny_data):
    """One study of 5 trials queued in this order: 3 good, one that diverges, one bad (median pruner)."""
    root = tmp_path_factory.mktemp("tune")
    (root / "space.toml").write_text(SPACE)
    out = root / "runs"
    url = default_url(out, "s")
    (out / "s").mkdir(parents=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    for params in [*GOOD, DIVERGES, BAD]:
        study.enqueue_trial(params)
    argv = ["tune", "--study", "s", "--space", str(root / "space.toml"), "--trials", "5", "--epochs", "2",
            "--data-dir", str(tiny_data), "--out-dir", str(out), *TINY]
    code = main(argv)
    return {"code": code, "out": out, "url": url, "argv": argv, "root": root}


def test_study_finishes_its_trials(study_run):
    assert study_run["code"] == 0
    trials = load("s", study_run["url"]).get_trials()
    assert [t.params for t in trials] == [*GOOD, DIVERGES, BAD]
    states = by_state(trials)
    assert len(states["COMPLETE"]) == 3 and len(states["PRUNED"]) == 2 and set(states) == {"COMPLETE", "PRUNED"}
    check_run_dirs(trials, study_run["out"], "s")
    for t in states["COMPLETE"]:  # the objective is the best validation accuracy over the epochs
        history = json.loads((study_run["out"] / "s" / f"trial-{t.number:04d}" / "history.json").read_text())
        assert t.value == max(r["val"]["accuracy"] for r in history)
        assert len(history) == 2 and t.user_attrs["seed"] == 0
        metrics = json.loads((study_run["out"] / "s" / f"trial-{t.number:04d}" / "metrics.json").read_text())
        assert t.user_attrs["test_accuracy"] == metrics["test_accuracy"]


def test_pruning_stops_a_bad_trial_after_its_first_epoch(study_run):
    trials = load("s", study_run["url"]).get_trials()
    bad = trials[4]
    assert bad.state.name == "PRUNED" and bad.user_attrs["pruned_at_epoch"] == 1
    run = study_run["out"] / "s" / "trial-0004"
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 1 and not (run / "metrics.json").exists()  # epoch 2 never ran
    # the median rule, computed here from the good trials' own history files
    firsts = sorted(json.loads((study_run["out"] / "s" / f"trial-{n:04d}" / "history.json").read_text())[0]["val"]
                    ["accuracy"] for n in range(3))
    assert history[0]["val"]["accuracy"] < firsts[1]


def test_a_diverging_trial_is_recorded_with_its_term_and_the_study_goes_on(study_run):
    trials = load("s", study_run["url"]).get_trials()
    diverged = trials[3]
    assert diverged.state.name == "PRUNED"
    assert "the data loss term is nan at epoch 1" in diverged.user_attrs["diverged"]
    assert trials[4].state.name == "PRUNED" and trials[4].datetime_start > diverged.datetime_complete  # went on


def test_report_writes_best_config_command_table_and_plots(study_run, capsys):
    out = study_run["out"]
    capsys.readouterr()
    assert main(["tune", "report", "s", "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    report = out / "s" / "report"
    trials = load("s", study_run["url"]).get_trials()
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: (t.value, -t.number))
    saved = json.loads((out / "s" / f"trial-{best.number:04d}" / "config.json").read_text())
    # best.toml holds the best run's config as `handgrad train` saved it
    import tomllib

    toml = tomllib.loads((report / "best.toml").read_text())
    assert TrainConfig.from_dict(toml) == TrainConfig.from_dict(saved)
    # the command line, parsed by handgrad's own parser, gives the same config (less the name and place)
    command = (report / "best-command.txt").read_text().strip()
    assert command in text
    args = vars(build_parser().parse_args(shlex.split(command)[1:]))
    given = {k: v for k, v in args.items() if k in TrainConfig.__dataclass_fields__}
    assert given.pop("name") == "s-best"
    assert TrainConfig(**given, out_dir=saved["out_dir"], name=saved["name"]) == TrainConfig.from_dict(saved)
    rows = (report / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + len(trials)
    assert [r.split(",")[1] for r in rows[1:]] == [t.state.name for t in trials]
    assert "diverged: training stopped: the data loss term is nan" in rows[4]
    for png in ("history.png", "importance.png"):
        data = (report / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert f"best: trial {best.number}" in text


def test_the_study_resumes_extends_and_refuses_other_settings(study_run, tmp_path, capsys):
    out = tmp_path / "runs"
    shutil.copytree(study_run["out"] / "s", out / "s", ignore=shutil.ignore_patterns("report"))
    argv = [a if a != str(study_run["out"]) else str(out) for a in study_run["argv"]]
    url = default_url(out, "s")
    assert main(argv) == 0  # already 5 finished: nothing to do
    assert len(load("s", url).get_trials()) == 5
    argv[argv.index("--trials") + 1] = "6"
    assert main(argv) == 0  # extended by one trial
    trials = load("s", url).get_trials()
    assert len(trials) == 6 and trials[5].state.name in FINISHED
    check_run_dirs(trials[5:], out, "s")
    capsys.readouterr()
    assert main([*argv, "--batch-size", "10"]) == 1
    err = capsys.readouterr().err
    assert "study 's' was started with other settings (fixed differ" in err and "batch_size" in err


def test_guide_like_grid_study_runs_every_combination_once(tmp_path, tiny_data):
    (tmp_path / "grid.toml").write_text('[grid]\nactivity_l2 = [0.0, 1e-5]\nactivity_on = ["pre", "post"]\n')
    out = tmp_path / "runs"
    assert main(["tune", "--study", "g", "--space", str(tmp_path / "grid.toml"), "--epochs", "1",
                 "--data-dir", str(tiny_data), "--out-dir", str(out), *TINY]) == 0  # --trials: the grid's size
    trials = load("g", default_url(out, "g")).get_trials()
    assert sorted((t.params["activity_l2"], t.params["activity_on"]) for t in trials) == \
        [(0.0, "post"), (0.0, "pre"), (1e-5, "post"), (1e-5, "pre")]
    check_run_dirs(trials, out, "g")


# ------------------------------------------------------------------------------------------ several workers
def test_two_workers_on_one_sqlite_study_finish_n_trials_together(tmp_path, tiny_data):
    out = tmp_path / "runs"
    log = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
    command = worker_command("--study", "w", "--trials", "4", "--epochs", "1", "--pruner", "none",
                             "--data-dir", str(tiny_data), "--out-dir", str(out), *TINY)
    workers = [subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=worker_env(tmp_path))
               for f in log]
    codes = [w.wait(timeout=DEADLINE) for w in workers]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs
    trials = load("w", default_url(out, "w")).get_trials()
    states = by_state(trials)
    # each worker was asked for 4 trials: 4 in all, not 8; a trial both created for the last slot is closed unrun
    assert len(states["COMPLETE"]) == 4, logs
    assert all("surplus" in t.user_attrs for t in states.get("FAIL", []))
    check_run_dirs(states["COMPLETE"], out, "w")


def test_ctrl_c_stops_cleanly_and_the_same_command_continues_with_that_trial(tmp_path, longer_data):
    out = tmp_path / "runs"
    argv = ["--study", "c", "--trials", "1", "--epochs", "3", "--pruner", "none", "--heartbeat", "1",
            "--data-dir", str(longer_data), "--out-dir", str(out), *TINY]
    worker = subprocess.Popen(worker_command(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=worker_env(tmp_path))
    url = default_url(out, "c")

    trials_of = StudyReader("c", url)

    def reported():
        return [t for t in trials_of() if t.state.name == "RUNNING" and t.intermediate_values]

    running = wait_for(reported, "a trial reported an epoch", worker)[0]
    worker.send_signal(signal.SIGINT)
    stdout, stderr = worker.communicate(timeout=DEADLINE)
    assert worker.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr and "same command" in stderr
    trials = load("c", url).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == running.params and trials[1].system_attrs["failed_trial"] == running.number
    # continue: the interrupted configuration runs again, and completes the study's one trial
    assert main(["tune", *argv]) == 0
    trials = load("c", url).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].params == running.params


@pytest.fixture(scope="module")
def postgres():
    yield from postgres_server()


def test_postgres_study_survives_a_worker_killed_mid_trial(tmp_path, longer_data, postgres):
    """Two workers share a study on a real PostgreSQL server; one is SIGKILLed after its trial reported an epoch.
    Its trial goes stale (heartbeat), is marked failed and run again by the other worker: every trial finished,
    none lost, none counted twice."""
    out = tmp_path / "runs"
    command = worker_command("--study", "pg", "--storage", postgres.url, "--trials", "3", "--epochs", "3",
                             "--pruner", "none", "--heartbeat", "1", "--data-dir", str(longer_data),
                             "--out-dir", str(out), *TINY)
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
    victim = subprocess.Popen(command, stdout=logs[0], stderr=subprocess.STDOUT, env=worker_env(tmp_path))

    trials_of = StudyReader("pg", postgres.url)

    def victims_trial():
        mine = [t for t in trials_of() if t.state.name == "RUNNING" and t.intermediate_values
                and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")]
        return mine[0] if mine else None

    survivor = subprocess.Popen(command, stdout=logs[1], stderr=subprocess.STDOUT, env=worker_env(tmp_path))
    killed = wait_for(victims_trial, "the first worker's trial reported an epoch", victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert survivor.wait(timeout=DEADLINE) == 0, (tmp_path / "worker1.log").read_text()
    trials = load("pg", postgres.url).get_trials()
    states = by_state(trials)
    assert set(states) <= {"COMPLETE", "FAIL"} and len(states["COMPLETE"]) == 3
    failed = [t for t in states["FAIL"] if "surplus" not in t.user_attrs]
    assert [t.number for t in failed] == [killed.number]
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE" and retries[0].params == killed.params
    assert retries[0].user_attrs["worker"].endswith(f":{survivor.pid}")
    check_run_dirs(states["COMPLETE"], out, "pg")


# ------------------------------------------------------------------------------------------ errors, one line each
@pytest.mark.parametrize("args, message", [
    ([], "--study NAME is required"),
    (["--study", "../x", "--trials", "1"], "--study must be 1-100 letters, digits"),
    (["--study", "s"], "give --trials N and/or --timeout SECONDS"),
    (["--study", "s", "--trials", "0"], "--trials must be >= 1, got 0"),
    (["--study", "s", "--timeout", "-5"], "--timeout must be > 0 seconds, got -5"),
    (["--study", "s", "--trials", "1", "--validation-size", "0"], "--validation-size must be >= 1 for tuning"),
    (["--study", "s", "--trials", "1", "--heartbeat", "0"], "--heartbeat must be a whole number of seconds >= 1"),
    (["--study", "s", "--trials", "1", "--storage", "not-a-url"], "--storage must be a database URL"),
    (["--study", "s", "--trials", "1", "--storage", "postgresql+pg8000://me:secret@127.0.0.1/db"],
     "--storage postgresql+pg8000://me:***@127.0.0.1/db: the database driver 'pg8000' is not installed "
     "(pip install pg8000)"),
    (["--study", "s", "--trials", "1", "--storage", "postgresql://me:secret@127.0.0.1:1/db"],
     "--storage postgresql+psycopg://me:***@127.0.0.1:1/db: cannot open the database: "),
    (["--study", "s", "--trials", "1", "--lr", "-1"], "--lr must be > 0.0, got -1.0"),
])
def test_bad_tune_arguments_give_one_line_naming_the_flag(tmp_path, capsys, args, message):
    code = main(["tune", *args, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and "Traceback" not in err and "secret" not in err
    assert len(err.strip().splitlines()) == 1


def test_report_of_a_missing_study_says_where_it_looked(tmp_path, capsys):
    assert main(["tune", "report", "nope", "--out-dir", str(tmp_path)]) == 1
    assert f"no study 'nope' under {tmp_path}: {tmp_path / 'nope' / 'study.db'} does not exist" in \
        capsys.readouterr().err
