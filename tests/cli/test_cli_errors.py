"""Errors a user can cause are one line naming the file: evaluate on damaged checkpoints, plot/compare on
malformed histories, unwritable --out-dir and unreadable data (as an unprivileged user, in real processes), and
any other exception."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad.cli import main
from handgrad.config import TrainConfig
from handgrad.training import save_checkpoint
from tests.formats import write_idx_dataset

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0", "--epochs", "1"]


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def write_checkpoint(path, data_dir, meta_changes=None, param_changes=None):
    """A checkpoint as 'handgrad train' writes it (untrained weights of the reference network), then changed."""
    config = TrainConfig(data_dir=str(data_dir), dropout=0.0)
    params = config.build_model((1, 28, 28), 10).get_weights()
    params.update(param_changes or {})
    meta = {"config": config.to_dict(), "class_names": [f"class {k}" for k in range(10)], "input_shape": [1, 28, 28],
            "normalization": {"mean": [0.5], "std": [0.25]}, "epoch": 1}
    meta.update(meta_changes or {})
    for key in [k for k, v in meta.items() if v is None]:
        del meta[key]
    save_checkpoint(path, params, {}, meta)
    return path


@pytest.mark.parametrize("field", ["class_names", "config", "input_shape", "normalization", "epoch"])
def test_evaluate_checkpoint_without_a_meta_field(tmp_path, data_dir, field, capsys):
    ckpt = write_checkpoint(tmp_path / "c.npz", data_dir, meta_changes={field: None})
    assert main(["evaluate", str(ckpt)]) == 1
    assert one_line_error(capsys.readouterr().err) == (f"handgrad evaluate: error: checkpoint {ckpt}: its meta lacks "
                                                       f"the field {field!r}; was it written by 'handgrad train'?")


def test_evaluate_checkpoint_with_a_wrong_parameter(tmp_path, data_dir, capsys):
    ckpt = write_checkpoint(tmp_path / "c.npz", data_dir, param_changes={"dense_1.W": np.zeros((3, 3), np.float32)})
    assert main(["evaluate", str(ckpt)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad evaluate: error: checkpoint {ckpt}: ") and "dense_1.W" in line


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_evaluate_refuses_non_finite_weights(tmp_path, data_dir, bad, capsys):
    W = TrainConfig(dropout=0.0).build_model((1, 28, 28), 10).get_weights()["conv2d_1.W"].copy()
    W[0, 0, 0, :2] = bad
    ckpt = write_checkpoint(tmp_path / "c.npz", data_dir, param_changes={"conv2d_1.W": W})
    assert main(["evaluate", str(ckpt)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad evaluate: error: checkpoint {ckpt}: parameter conv2d_1.W has 2 non-finite (NaN "
                           f"or infinite) values of {W.size}")


def test_evaluate_confusion_matrix_rows_have_one_number_per_column(tmp_path, data_dir, capsys):
    ckpt = write_checkpoint(tmp_path / "c.npz", data_dir)
    assert main(["evaluate", str(ckpt), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["confusion_matrix"]
    assert main(["evaluate", str(ckpt)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted):")
    header, rows = lines[start + 1], lines[start + 2:start + 12]
    assert header.split() == [str(k) for k in range(10)]
    width = len("class 0")
    for k, line in enumerate(rows):
        assert line[:2 + width] == f"  class {k}"
        assert [int(v) for v in line[2 + width:].split()] == expected[k]  # 10 numbers, no trailing row index
        assert len(line) == len(header)  # each number right under its column number


def test_evaluate_data_dir_of_the_training_run_is_gone(tmp_path, data_dir, capsys):
    ckpt = write_checkpoint(tmp_path / "c.npz", tmp_path / "moved")
    assert main(["evaluate", str(ckpt)]) == 1
    assert one_line_error(capsys.readouterr().err) == (
        f"handgrad evaluate: error: data directory {tmp_path / 'moved'} (--data-dir of the training run; pass "
        "--data-dir to use another) does not exist")
    assert main(["evaluate", str(ckpt), "--data-dir", str(data_dir), "--json"]) == 0


@pytest.mark.parametrize("history", ['{"epoch": 1}', "[1, 2]", '[{"epoch": "one", "train": {}}]', "not json",
                                     '[{"epoch": 1, "train": []}]'])
@pytest.mark.parametrize("command", ["plot", "compare"])
def test_plot_and_compare_on_a_malformed_history(tmp_path, history, command, capsys):
    (tmp_path / "history.json").write_text(history)
    argv = [command, str(tmp_path)] + (["--out", str(tmp_path / "c.png")] if command == "compare" else [])
    assert main(argv) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad {command}: error: {tmp_path / 'history.json'}")
    assert not (tmp_path / "plots").exists() or not list((tmp_path / "plots").iterdir())


def test_unexpected_exception_is_one_line_and_traceback_on_request(tmp_path, monkeypatch, capsys):
    from handgrad.cli import plot as plot_command

    def broken(args):
        raise RuntimeError("a bug\non two lines")

    monkeypatch.setattr(plot_command, "run_plot", broken)
    assert main(["plot", str(tmp_path)]) == 1
    assert one_line_error(capsys.readouterr().err) == ("handgrad plot: error: unexpected RuntimeError: a bug on two "
                                                       "lines (set HANDGRAD_TRACEBACK=1 for the traceback)")
    monkeypatch.setenv("HANDGRAD_TRACEBACK", "1")
    assert main(["plot", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("a bug' in err


# ---------------------------------------------------------------- permissions, in real processes
# Run by root, a child drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its capability bounding set and execs
# Python: the new program (uid 0, owner of the test's files) then obeys file permissions like any user.
DROP_DAC = """import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; 24 = PR_CAPBSET_DROP
    if libc.prctl(24, cap, 0, 0, 0) != 0:
        sys.exit(99)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


@pytest.fixture
def unprivileged(tmp_path, isolated_data):
    """``run(argv)``: ``python -m handgrad ARGV`` in a real process for which chmod'ed files really are closed
    (root ignores permissions: as root the process gives up the capabilities that let it)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(isolated_data.home)}
    env.pop("HANDGRAD_DATA", None)
    prefix = [sys.executable, "-c", DROP_DAC] if os.geteuid() == 0 else [sys.executable]

    def run(argv):
        return subprocess.run([*prefix, *argv], env=env, capture_output=True, text=True, timeout=120)

    closed = tmp_path / "closed"
    closed.mkdir()
    os.chmod(closed, 0o555)
    probe = run(["-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('x')", str(closed / "f")])
    os.chmod(closed, 0o755)
    if probe.returncode == 0 or "PermissionError" not in probe.stderr:
        pytest.skip(f"cannot run a process that obeys file permissions here (exit {probe.returncode})")
    return lambda argv: run(["-m", "handgrad", *argv])


def test_read_only_out_dir_fails_before_training(tmp_path, unprivileged):
    base, run = tmp_path, unprivileged
    write_idx_dataset(base / "data", n_train=300, n_test=80)
    (base / "runs").mkdir()
    os.chmod(base / "runs", 0o555)
    result = run(["train", *TINY, "--data-dir", str(base / "data"), "--out-dir", str(base / "runs"), "--name", "r"])
    assert result.returncode == 1
    line = one_line_error(result.stderr)
    assert line.startswith(f"handgrad train: error: cannot write to the run directory {base / 'runs' / 'r'} "
                           f"(--out-dir {base / 'runs'}): ") and "Permission denied" in line
    assert "epoch" not in result.stdout  # refused before any training


def test_read_only_run_directory_of_a_resumed_run(tmp_path, unprivileged):
    base, run = tmp_path, unprivileged
    write_idx_dataset(base / "data", n_train=300, n_test=80)
    (base / "runs" / "r" / "checkpoints").mkdir(parents=True)
    (base / "runs" / "r" / "config.json").write_text(TrainConfig(data_dir=str(base / "data"), name="r",
                                                                 out_dir=str(base / "runs"), epochs=1).to_json())
    os.chmod(base / "runs" / "r", 0o777)  # the run directory is writable, its checkpoints/ is not
    os.chmod(base / "runs" / "r" / "checkpoints", 0o555)
    result = run(["train", "--resume", str(base / "runs" / "r"), "--no-progress"])
    assert result.returncode == 1
    line = one_line_error(result.stderr)
    assert f"cannot write to the run directory {base / 'runs' / 'r' / 'checkpoints'}" in line


def test_unreadable_data_file_is_named(tmp_path, unprivileged):
    base, run = tmp_path, unprivileged
    write_idx_dataset(base / "data", n_train=300, n_test=80)
    os.chmod(base / "data" / "train-labels-idx1-ubyte.gz", 0)
    (base / "runs").mkdir(mode=0o777)
    os.chmod(base / "runs", 0o777)
    result = run(["train", *TINY, "--data-dir", str(base / "data"), "--out-dir", str(base / "runs"), "--name", "r"])
    assert result.returncode == 1
    assert one_line_error(result.stderr) == (f"handgrad train: error: cannot read "
                                             f"{base / 'data' / 'train-labels-idx1-ubyte.gz'}: Permission denied")
