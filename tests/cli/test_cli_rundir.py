"""Run directories: an exclusive lock (two real processes), unfinished runs never silently replaced, stale
temporary files removed, run names that stay inside --out-dir, unwritable --out-dir refused up front."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from handgrad.cli import main
from handgrad.training import load_checkpoint
from tests.formats import idx_bytes, write_idx_dataset

TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0", "--epochs", "1"]
SRC = Path(__file__).resolve().parents[2] / "src"


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def handgrad_process(argv, home, **kwargs):
    """``python -m handgrad ARGV`` as a real process, with handgrad's source importable and HOME isolated."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(home)}
    env.pop("HANDGRAD_DATA", None)
    return [sys.executable, "-m", "handgrad", *argv], env


class Fifo:
    """The test split's labels file as a named pipe: a process that reads the data blocks on it until the test
    writes the labels. Opening it for writing returns once the reader has opened it (no sleeps)."""

    def __init__(self, data_dir: Path, labels: bytes):
        (data_dir / "t10k-labels-idx1-ubyte.gz").unlink()
        self.path = data_dir / "t10k-labels-idx1-ubyte"
        os.mkfifo(self.path)
        self.labels = labels

    def open_when_read_by(self, proc: subprocess.Popen):
        """Open for writing once ``proc`` opens it; if ``proc`` exits first, unblock ourselves and fail."""
        def unblock_if_exited():
            proc.wait()
            with open(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK), "rb"):
                pass

        threading.Thread(target=unblock_if_exited, daemon=True).start()
        writer = open(self.path, "wb")
        assert proc.poll() is None, f"the first process exited ({proc.returncode}) before reading the data"
        return writer


def test_two_trainings_with_the_same_name_one_runs_the_other_is_refused(tmp_path, data_dir):
    labels = idx_bytes(write_idx_dataset(tmp_path / "same", n_train=300, n_test=80)["test"][1])
    fifo = Fifo(data_dir, labels)
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "runs"), "--name", "x"]
    cmd, env = handgrad_process(argv, tmp_path)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with fifo.open_when_read_by(first) as writer:  # the first holds the lock and waits for its data
            second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            writer.write(fifo.labels)
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert second.returncode == 1
    line = one_line_error(second.stderr)
    assert line.startswith(f"handgrad train: error: run x is in use by pid {first.pid} ")
    assert first.returncode == 0, err
    assert "test accuracy" in out and load_checkpoint(tmp_path / "runs" / "x" / "checkpoints" / "last.npz").epoch == 1


def test_sigkill_releases_the_lock(tmp_path, data_dir, capsys):
    labels = write_idx_dataset(tmp_path / "same", n_train=300, n_test=80)["test"][1]
    fifo = Fifo(data_dir, idx_bytes(labels))
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "runs"), "--name", "x"]
    cmd, env = handgrad_process(argv, tmp_path)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with fifo.open_when_read_by(first):
        first.kill()  # SIGKILL while it holds the lock
        first.wait()
    assert (tmp_path / "runs" / "x" / ".lock").read_text() == f"{first.pid}\n"  # its lock file stays...
    fifo.path.unlink()
    (data_dir / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    assert main(argv) == 0, capsys.readouterr().err  # ...but its lock went with it
    assert (tmp_path / "runs" / "x" / ".lock").read_text() == f"{os.getpid()}\n"


def test_unfinished_run_is_refused_then_resumed_from_epoch_0(tmp_path, data_dir, capsys):
    common = [*TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--dropout", "0.3"]
    assert main(["train", *common, "--name", "whole"]) == 0
    # A run killed during its first checkpoint write: config and history, no checkpoint, the temporary file.
    cut = tmp_path / "cut"
    (cut / "checkpoints").mkdir(parents=True)
    for name in ("config.json", "history.json"):
        (cut / name).write_text((tmp_path / "whole" / name).read_text().replace('"name": "whole"', '"name": "cut"'))
    stale = cut / "checkpoints" / ".last.npz.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)
    capsys.readouterr()

    assert main(["train", *common, "--name", "cut"]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line == (f"handgrad train: error: {cut} holds an unfinished run (config.json and history.json but no "
                    f"checkpoint: it stopped before its first checkpoint was written); continue it with --resume {cut} "
                    "or choose another --name")
    assert stale.exists() and (cut / "config.json").exists()  # nothing touched

    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{cut} has no checkpoint yet (it stopped during its first epoch): starting it again from epoch 0" in out
    assert f"removed {stale}, a temporary file left by a run that was stopped while writing" in out
    assert not stale.exists()
    whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.npz")
    resumed = load_checkpoint(cut / "checkpoints" / "last.npz")
    assert resumed.epoch == whole.epoch == 1
    for key in whole.params:  # exactly the uninterrupted run
        assert whole.params[key].tobytes() == resumed.params[key].tobytes(), key


def test_stale_temporary_files_are_removed_when_a_run_is_resumed(tmp_path, data_dir, capsys):
    common = [*TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--name", "r"]
    assert main(["train", *common]) == 0
    stale = [tmp_path / "r" / ".history.json.x1.tmp", tmp_path / "r" / "checkpoints" / ".best.npz.x2.tmp"]
    for path in stale:
        path.write_bytes(b"partial")
    keep = tmp_path / "r" / "notes.tmp"  # not one of handgrad's temporaries
    keep.write_text("mine")
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2", "--no-progress"]) == 0
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


@pytest.mark.parametrize("name", ["../escaped", "/abs", "a/b", ".", "..", ""])
def test_run_name_must_be_one_path_component(tmp_path, isolated_data, name, capsys):
    assert main(["train", "--out-dir", str(tmp_path / "runs"), "--data-dir", str(tmp_path), "--name", name]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line == ("handgrad train: error: --name must be a single directory name inside --out-dir (not empty, '.' "
                    f"or '..', no '/'), got {name!r}")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escaped").exists()


def test_out_dir_that_is_a_file(tmp_path, data_dir, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "file"), "--name", "r"]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad train: error: --out-dir: {tmp_path / 'file'} is a file, not a directory")


def test_failed_start_leaves_no_run_directory(tmp_path, data_dir, capsys):
    (data_dir / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x00\x00\x08\x03 damaged")
    assert main(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "runs"), "--name", "r"]) == 1
    assert "t10k-images-idx3-ubyte.gz" in one_line_error(capsys.readouterr().err)
    assert list((tmp_path / "runs").iterdir()) == []  # no half-made run to be refused as "unfinished" later


@pytest.mark.parametrize("argv,message", [
    (["--warmup-epochs", "100", "--epochs", "1"],
     "--warmup-epochs must be <= --epochs (1), got 100.0: the learning rate would never reach --lr"),
    (["--min-lr", "0.1", "--lr", "0.01"], "--min-lr must be <= --lr (0.01), got 0.1"),
    (["--early-stopping", "3", "--validation-size", "0"],
     "--early-stopping needs a validation set (--validation-size > 0), got 3 with --validation-size 0"),
])
def test_flags_that_contradict_each_other(tmp_path, isolated_data, argv, message, capsys):
    assert main(["train", "--out-dir", str(tmp_path), "--data-dir", str(tmp_path), *argv]) == 2
    assert one_line_error(capsys.readouterr().err) == f"handgrad train: error: {message}"


def test_validation_size_as_large_as_the_training_set(tmp_path, data_dir, capsys):
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--name", "r"]
    assert main([*argv, "--validation-size", "300"]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "validation_size (--validation-size) must be in [0, 300) for Fashion-MNIST's 300 training samples, got " \
           "300" in line


def test_validation_size_zero_has_no_best_checkpoint(tmp_path, data_dir, capsys):
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--name", "r"]
    assert main([*argv, "--validation-size", "0"]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["best_checkpoint"] is None and not (tmp_path / "r" / "checkpoints" / "best.npz").exists()
    assert Path(metrics["checkpoint"]).is_file()


def test_data_dir_typo_is_an_error_not_another_copy(tmp_path, data_dir, isolated_data, capsys):
    write_idx_dataset(isolated_data.system("fashion-mnist"), n_train=300, n_test=80)  # the "system copy"
    argv = ["train", *TINY, "--out-dir", str(tmp_path / "runs"), "--name", "r"]
    for where, message in ((tmp_path / "typo", "does not exist"), (data_dir / "train-images-idx3-ubyte.gz",
                                                                   "is a file, not a directory")):
        assert main([*argv, "--data-dir", str(where)]) == 1
        assert one_line_error(capsys.readouterr().err) == (f"handgrad train: error: data directory {where} "
                                                           f"(--data-dir) {message}")
    (data_dir / "train-labels-idx1-ubyte.gz").unlink()
    assert main([*argv, "--data-dir", str(data_dir)]) == 1
    assert "holds train-images-idx3-ubyte.gz but not train-labels-idx1-ubyte[.gz]" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
