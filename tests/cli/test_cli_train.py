"""``handgrad train`` / ``evaluate`` end to end on small files in the real IDX format, and the CLI's errors."""
import json
import os

import numpy as np
import pytest

from handgrad.cli import main
from handgrad.training import Trainer, load_checkpoint

TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0"]


def train(argv, capsys):
    code = main(["train", *TINY, *argv])
    return code, capsys.readouterr()


def test_train_writes_the_run_directory(tmp_path, data_dir, capsys):
    code, out = train(["--data-dir", str(data_dir), "--epochs", "2", "--out-dir", str(tmp_path / "runs"),
                       "--name", "r1", "--weight-l2", "1e-4", "--activity-l2", "1e-5", "--activity-on", "post"], capsys)
    assert code == 0, out.err
    run = tmp_path / "runs" / "r1"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "config.json", "config.sha256",
                                                     "history.csv", "history.json", "metrics.json"]
    assert (run / ".lock").read_text() == f"{os.getpid()}\n"  # the pid of the process that ran it
    config = json.loads((run / "config.json").read_text())
    assert (config["weight_l2"], config["activity_l2"], config["activity_on"], config["epochs"]) == \
        (1e-4, 1e-5, "post", 2)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs"] == 2
    assert metrics["test"]["activity"] > 0 and metrics["test"]["weight"] > 0
    assert f"test accuracy {metrics['test_accuracy']:.2%}" in out.out
    assert out.out.count("epoch ") >= 2 and "val loss" in out.out
    history = json.loads((run / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]


def test_evaluate_prints_accuracy_per_class_and_confusion_matrix(tmp_path, data_dir, capsys):
    train(["--data-dir", str(data_dir), "--epochs", "1", "--out-dir", str(tmp_path), "--name", "r"], capsys)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert main(["evaluate", str(tmp_path / "r" / "checkpoints" / "last.npz"), "--data-dir", str(data_dir),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 80
    assert np.trace(matrix) / 80 == pytest.approx(result["accuracy"])
    assert main(["evaluate", str(tmp_path / "r" / "checkpoints" / "last.npz"), "--data-dir", str(data_dir)]) == 0
    text = capsys.readouterr().out
    assert "per-class accuracy:" in text and "T-shirt/top" in text and "confusion matrix" in text


RECIPE = ["--augment", "--random-erasing", "0.5", "--label-smoothing", "0.1", "--tta-flip", "--ema", "0.9"]


@pytest.mark.parametrize("extra", [[], RECIPE], ids=["plain", "recipe"])
def test_interrupted_run_resumes_exactly(tmp_path, data_dir, capsys, monkeypatch, extra):
    common = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--dropout", "0.3", "--epochs", "2", *extra]
    assert train([*common, "--name", "whole"], capsys)[0] == 0

    summary = Trainer._summary_line

    def interrupt_after_first_epoch(row, epochs):
        if row["epoch"] == 1:
            raise KeyboardInterrupt  # Ctrl-C after epoch 1's checkpoint was written
        return summary(row, epochs)

    monkeypatch.setattr(Trainer, "_summary_line", staticmethod(interrupt_after_first_epoch))
    code, out = train([*common, "--name", "cut"], capsys)
    assert code == 130 and "interrupted (continue a training run with 'handgrad train --resume RUN_DIR')" in out.err
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.npz").epoch == 1
    monkeypatch.setattr(Trainer, "_summary_line", staticmethod(summary))

    code = main(["train", "--resume", str(tmp_path / "cut"), "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"resuming {tmp_path / 'cut'} after epoch 1" in out.out
    whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.npz")
    resumed = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.npz")
    assert resumed.epoch == 2
    for key in whole.params:
        assert whole.params[key].tobytes() == resumed.params[key].tobytes(), key
    metrics = [json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("whole", "cut")]
    assert metrics[0]["test_accuracy"] == metrics[1]["test_accuracy"]
    assert ("test_accuracy_without_tta" in metrics[1]) == bool(extra)
    if extra:
        config = json.loads((tmp_path / "cut" / "config.json").read_text())
        assert (config["random_erasing"], config["label_smoothing"], config["tta_flip"], config["ema"]) == \
            (0.5, 0.1, True, 0.9)
        assert metrics[0]["test_accuracy_without_tta"] == metrics[1]["test_accuracy_without_tta"]
        assert main(["evaluate", str(tmp_path / "cut" / "checkpoints" / "last.npz"), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["accuracy"] == metrics[1]["test_accuracy"]  # EMA and mirrors


def test_resume_may_extend_the_run(tmp_path, data_dir, capsys):
    train(["--data-dir", str(data_dir), "--epochs", "1", "--out-dir", str(tmp_path), "--name", "r"], capsys)
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2", "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "last.npz").epoch == 2
    assert json.loads((tmp_path / "r" / "config.json").read_text())["epochs"] == 2


def test_run_started_before_the_issue_25_flags_still_resumes(tmp_path, data_dir, capsys):
    """A run whose config.json and config.sha256 were written without --label-smoothing, --random-erasing,
    --tta-flip and --ema (an older handgrad) resumes: those fields at their defaults are not in the checksum."""
    import hashlib

    from handgrad.training.run import LATER_FIELDS, RESUMABLE_FIELDS

    train(["--data-dir", str(data_dir), "--epochs", "1", "--out-dir", str(tmp_path), "--name", "r"], capsys)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    old = {k: v for k, v in config.items() if k not in LATER_FIELDS}
    recipe = {k: v for k, v in old.items() if k not in (*RESUMABLE_FIELDS, "name")}
    checksum = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    assert (tmp_path / "r" / "config.sha256").read_text().strip() == checksum  # the older handgrad's checksum
    (tmp_path / "r" / "config.json").write_text(json.dumps(old, indent=2, sort_keys=True))
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2", "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "last.npz").epoch == 2


@pytest.mark.parametrize("argv,message", [
    (["--lr", "-1"], "handgrad train: error: --lr must be > 0.0, got -1.0"),
    (["--lr", "abc"], "handgrad train: error: argument --lr: invalid float value: 'abc' (see 'handgrad train --help')"),
    (["--epochs", "0"], "handgrad train: error: --epochs must be >= 1, got 0"),
    (["--optimizer", "adagrad"], "handgrad train: error: argument --optimizer: invalid choice: 'adagrad'"),
    (["--dropout", "1.5"], "handgrad train: error: --dropout must be < 1.0, got 1.5"),
    (["--weight-l2", "nan"], "handgrad train: error: --weight-l2 must be finite, got nan"),
    (["--label-smoothing", "1"], "handgrad train: error: --label-smoothing must be < 1.0, got 1.0"),
    (["--random-erasing", "-0.5"], "handgrad train: error: --random-erasing must be >= 0.0, got -0.5"),
    (["--ema", "1"], "handgrad train: error: --ema must be < 1.0, got 1.0"),
    (["--bogus"], "handgrad: error: unrecognized arguments: --bogus"),
])
def test_bad_flags_give_one_line_errors(argv, message, capsys):
    try:
        code = main(["train", *argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_resume_refuses_to_change_the_recipe(tmp_path, data_dir, capsys):
    train(["--data-dir", str(data_dir), "--epochs", "1", "--out-dir", str(tmp_path), "--name", "r"], capsys)
    assert main(["train", "--resume", str(tmp_path / "r"), "--lr", "0.1"]) == 2
    assert "cannot change --lr when resuming" in capsys.readouterr().err


def test_existing_run_is_not_overwritten(tmp_path, data_dir, capsys):
    argv = ["--data-dir", str(data_dir), "--epochs", "1", "--out-dir", str(tmp_path), "--name", "r"]
    train(argv, capsys)
    code, out = train(argv, capsys)
    assert code == 1 and "already holds a run; continue it with --resume" in out.err


def test_missing_data_set_says_where_to_put_it(tmp_path, isolated_data, capsys):
    code, out = train(["--dataset", "mnist", "--out-dir", str(tmp_path)], capsys)
    assert code == 1
    assert "handgrad train: error:" in out.err and "Traceback" not in out.err
    assert "train-images-idx3-ubyte.gz" in out.err


def test_evaluate_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.npz")]) == 1
    assert "does not exist" in capsys.readouterr().err
