"""Second audit, data lost or wrong results (items 4-10): best.npz after a SIGKILL during its write, an edited
config.json on --resume, non-finite weights and results, an empty validation split, two runs of one folder name,
a failed start, reading a study that does not exist. Real processes, real signals, real files; each case
checks the one-line error, the exit code, that nothing outside --out-dir changed and that nothing was lost."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from handgrad import plots
from handgrad.cli import main
from handgrad.training import History, load_checkpoint
from tests.cli.audit import MODEL, TINY, handgrad, one_line_error, process_env, rewrite_checkpoint, snapshot


def train(tmp_path, data_dir, name, *flags, capsys=None, out=None):
    out = out or tmp_path / "out"
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(out), "--name", name, *map(str, flags)]
    code = main(argv)
    if capsys is not None:
        err = capsys.readouterr().err
        assert code == 0, err
    return out / name


# ------------------------------------------------------------------------------------------ 4
# The child blocks (forever) right before best.npz's temporary file is renamed into place at the given epoch, and
# says so on a pipe: the test SIGKILLs it there, in the middle of writing the best checkpoint.
KILL_POINT = textwrap.dedent("""
    import os, sys, threading
    writes = 0
    def hook(event, args):
        global writes
        if event == "os.rename" and str(args[1]) == "best.npz":
            writes += 1
            if writes == int(os.environ["BLOCK_AT"]):
                os.write(int(os.environ["READY_FD"]), b"x")
                threading.Event().wait()
    sys.addaudithook(hook)
    from handgrad.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_4_sigkill_while_best_npz_is_written_then_resume(tmp_path, data_dir, capsys):
    whole = train(tmp_path, data_dir, "whole", "--epochs", "2", capsys=capsys)
    val = [row["val"]["data"] for row in History.load(whole).rows]
    assert val[1] < val[0]  # epoch 2 is the best: its best.npz write is the one interrupted
    out = tmp_path / "out"
    argv = ["train", *TINY, "--data-dir", data_dir, "--out-dir", out, "--name", "cut", "--epochs", "2"]
    ready_r, ready_w = os.pipe()
    env = {**process_env(tmp_path / "home"), "BLOCK_AT": "2", "READY_FD": str(ready_w)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_POINT, *map(str, argv)], env=env, pass_fds=(ready_w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        os.close(ready_r)
    cut = out / "cut"
    assert load_checkpoint(cut / "checkpoints" / "best.npz").epoch == 1  # killed before epoch 2's best landed
    outside = snapshot(tmp_path, skip=[out])
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0, capsys.readouterr().err
    best, last = (load_checkpoint(cut / "checkpoints" / n) for n in ("best.npz", "last.npz"))
    metrics = json.loads((cut / "metrics.json").read_text())
    assert best.epoch == 2 and last.epoch == 2 and metrics["best_checkpoint"] == str(cut / "checkpoints" / "best.npz")
    lowest = min(r["val"]["data"] for r in best.meta["history"])
    assert best.meta["best_val_loss"] == last.meta["best_val_loss"] == lowest
    reference = load_checkpoint(whole / "checkpoints" / "best.npz")  # the same as a run never interrupted
    assert reference.params.keys() == best.params.keys()
    assert all(np.array_equal(reference.params[k], best.params[k]) for k in best.params)
    assert snapshot(tmp_path, skip=[out]) == outside


# ------------------------------------------------------------------------------------------ 5
@pytest.mark.parametrize("edit,fields", [({"lr": 0.5}, "lr: 0.001 -> 0.5"),
                                         ({"seed": 7, "batch_size": 25}, "batch_size: 50 -> 25, seed: 0 -> 7")])
def test_5_resume_refuses_an_edited_config_naming_the_fields(tmp_path, data_dir, edit, fields, capsys):
    run = train(tmp_path, data_dir, "r", capsys=capsys)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **edit}, indent=2))
    before, outside = snapshot(run), snapshot(tmp_path, skip=[tmp_path / "out"])
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 1
    assert one_line_error(capsys.readouterr().err) == (
        f"handgrad train: error: {run / 'config.json'} was edited since the run wrote it ({fields}): a run's settings "
        "cannot change when it is resumed (only --epochs, --early-stopping, --data-dir, --out-dir may, as flags of "
        "--resume); restore config.json, or start a new run")
    assert snapshot(run) == before and snapshot(tmp_path, skip=[tmp_path / "out"]) == outside
    (run / "config.json").write_text(json.dumps(config, indent=2))  # restored: the run continues
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0


def test_5_an_edited_config_of_a_run_without_checkpoint_is_refused_by_its_checksum(tmp_path, data_dir, capsys):
    run = train(tmp_path, data_dir, "r", capsys=capsys)
    for path in (run / "checkpoints").iterdir():
        path.unlink()  # as if killed during the first epoch: config.json and its checksum only
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "lr": 0.5}))
    assert main(["train", "--resume", str(run), "--no-progress"]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad train: error: {run / 'config.json'} was edited since the run wrote it (its "
                           f"settings no longer match {run / 'config.sha256'})")


# ------------------------------------------------------------------------------------------ 6
@pytest.mark.filterwarnings("error::RuntimeWarning")  # the overflow is the one-line error, not NumPy warnings too
def test_6_non_finite_state_or_overflowing_weights_are_errors(tmp_path, data_dir, capsys):
    run = train(tmp_path, data_dir, "bn", "--batchnorm", capsys=capsys)
    last = run / "checkpoints" / "last.npz"
    ckpt = load_checkpoint(last)
    key = next(k for k in ckpt.state if k.endswith("moving_variance"))
    var = ckpt.state[key].copy()
    var[0] = np.nan
    nan_state = rewrite_checkpoint(last, run / "checkpoints" / "nan-state.npz", arrays={f"state/{key}": var})
    W = {k: v * np.float32(1e30) for k, v in ckpt.params.items() if k.endswith(".W")}  # finite, overflows in use
    huge = rewrite_checkpoint(last, run / "checkpoints" / "huge.npz", arrays={f"param/{k}": v for k, v in W.items()})
    before = snapshot(tmp_path)
    for path, message in ((nan_state, f"checkpoint {nan_state}: layer state {key} has 1 non-finite (NaN or infinite) "
                                      f"values of {var.size}"),
                          (huge, f"checkpoint {huge}: its data loss on the 80 test images is ")):
        for extra in ([], ["--json"]):
            assert main(["evaluate", str(path), *extra]) == 1
            captured = capsys.readouterr()
            assert one_line_error(captured.err).startswith(f"handgrad evaluate: error: {message}")
            assert captured.out == ""  # no accuracy, no NaN in a JSON document
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------ 7
def test_7_evaluate_val_split_of_a_run_without_one(tmp_path, data_dir, capsys):
    run = train(tmp_path, data_dir, "r", "--validation-size", "0", capsys=capsys)
    assert main(["evaluate", str(run / "checkpoints" / "last.npz"), "--split", "val"]) == 1
    captured = capsys.readouterr()
    assert one_line_error(captured.err) == (f"handgrad evaluate: error: checkpoint {run / 'checkpoints' / 'last.npz'}: "
                                            "its run was trained with --validation-size 0, so it has no validation "
                                            "split; evaluate --split test")
    assert "nan" not in captured.out


# ------------------------------------------------------------------------------------------ 8
def test_8_compare_two_runs_with_the_same_folder_name(tmp_path, data_dir, capsys):
    a = train(tmp_path, data_dir, "same", capsys=capsys, out=tmp_path / "o1")
    b = train(tmp_path, data_dir, "same", "--lr", "3e-4", capsys=capsys, out=tmp_path / "o2")
    out = tmp_path / "cmp.png"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 2 runs (o1/same, o2/same)"
    labels = plots.run_labels([a, b])
    fig = plots.compare_figure({label: History.load(d) for label, d in zip(labels, [a, b])})
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)  # neither run dropped
    assert main(["compare", str(a), str(tmp_path / "o1" / ".." / "o1" / "same"), "--out", str(out)]) == 1
    assert "is given twice" in one_line_error(capsys.readouterr().err)


# ------------------------------------------------------------------------------------------ 9
def test_9_bad_thread_count_is_refused_before_the_run_directory_is_claimed(tmp_path, data_dir, capsys):
    argv = ["train", *TINY, "--data-dir", data_dir, "--out-dir", tmp_path / "out", "--name", "r"]
    result = handgrad(argv, tmp_path / "home", env={"HANDGRAD_NUM_THREADS": "abc"})
    assert result.returncode == 1
    assert one_line_error(result.stderr) == ("handgrad train: error: HANDGRAD_NUM_THREADS must be a positive integer, "
                                             "got 'abc'")
    assert not (tmp_path / "out" / "r").exists()
    assert handgrad(argv, tmp_path / "home", env={"HANDGRAD_NUM_THREADS": "1"}).returncode == 0  # the fixed command
    # The environment is checked first, before the run directory is even looked at: here it already holds a run.
    before = snapshot(tmp_path)
    resume = ["train", "--resume", tmp_path / "out" / "r", "--epochs", "2", "--no-progress"]
    result = handgrad(resume, tmp_path / "home", env={"HANDGRAD_NUM_THREADS": "0"})
    assert one_line_error(result.stderr) == ("handgrad train: error: HANDGRAD_NUM_THREADS must be a positive integer, "
                                             "got '0'")
    assert snapshot(tmp_path) == before


def test_9_a_failed_model_start_leaves_nothing_behind(tmp_path, data_dir, capsys):
    file = tmp_path / "net.py"
    file.write_text(MODEL + "\ndef broken(input_shape, num_classes):\n    raise RuntimeError('not yet')\n")
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "out"), "--name", "r"]
    outside = snapshot(tmp_path, skip=[tmp_path / "out"])
    assert main([*argv, "--model", f"{file}:broken"]) == 1
    assert one_line_error(capsys.readouterr().err) == (f"handgrad train: error: --model {file}:broken raised "
                                                       f"RuntimeError: not yet (at {file}:9)")
    assert list((tmp_path / "out").iterdir()) == [] and snapshot(tmp_path, skip=[tmp_path / "out"]) == outside
    assert main([*argv, "--model", f"{file}:small"]) == 0  # the corrected command is not "an unfinished run"


# ------------------------------------------------------------------------------------------ 10
def test_10_tune_report_of_a_missing_study_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert main(["tune", "report", "nosuch", "--storage", "sqlite:///typo/study.db"]) == 1
    assert one_line_error(capsys.readouterr().err) == ("handgrad tune: error: --storage sqlite:///typo/study.db: no "
                                                       "database there (typo/study.db is not a file); reading a study "
                                                       "never creates one")
    assert snapshot(tmp_path) == before and not (tmp_path / "typo").exists()
