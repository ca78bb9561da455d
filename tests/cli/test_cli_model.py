"""``handgrad train --model FILE.py:FUNCTION`` trains, resumes and evaluates a user's network; ``--batchnorm``."""
import json
import textwrap

import numpy as np
import pytest

from handgrad.cli import main
from handgrad.training import Trainer, load_checkpoint

TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0"]
MODEL = textwrap.dedent("""
    import handgrad as hg

    def small(input_shape, num_classes):
        layers = [hg.Conv2D(4, 3, stride=2), hg.BatchNorm2D(momentum=0.9), hg.ELU(), hg.MaxPool2D(2), hg.Flatten(),
                  hg.Dropout(0.2), hg.Dense(num_classes)]
        return hg.Sequential(layers, input_shape=input_shape, seed=3)

    def wrong_classes(input_shape, num_classes):
        return small(input_shape, 3)
""")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_net.py"
    path.write_text(MODEL)
    return path


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def test_model_run_trains_resumes_and_evaluates(tmp_path, data_dir, model_file, capsys, monkeypatch):
    common = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--epochs", "2",
              "--model", f"{model_file}:small"]
    code, out = run([*common, "--name", "whole"], capsys)
    assert code == 0, out.err
    assert (tmp_path / "whole" / "model.py").read_text() == MODEL
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["model"] == f"{model_file}:small"

    summary = Trainer._summary_line

    def interrupt_after_first_epoch(row, epochs):
        if row["epoch"] == 1:
            raise KeyboardInterrupt
        return summary(row, epochs)

    monkeypatch.setattr(Trainer, "_summary_line", staticmethod(interrupt_after_first_epoch))
    assert run([*common, "--name", "cut"], capsys)[0] == 130
    monkeypatch.setattr(Trainer, "_summary_line", staticmethod(summary))
    model_file.write_text(MODEL.replace("Conv2D(4, 3", "Conv2D(8, 3"))  # the run keeps its own copy
    code, out = run(["train", "--resume", str(tmp_path / "cut"), "--no-progress"], capsys)
    assert code == 0, out.err
    whole = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.npz")
    cut = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.npz")
    assert cut.epoch == 2 and {"batch_norm2d.moving_mean", "dropout.generator"} <= set(cut.state)
    for key, value in whole.model_state.items():
        assert cut.model_state[key].tobytes() == value.tobytes(), key

    metrics = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    code, out = run(["evaluate", str(tmp_path / "cut" / "checkpoints" / "last.npz"), "--data-dir", str(data_dir),
                     "--json"], capsys)
    assert code == 0, out.err
    assert json.loads(out.out)["accuracy"] == metrics["test_accuracy"]

    (tmp_path / "cut" / "model.py").write_text(MODEL + "\n# edited\n")
    code, out = run(["evaluate", str(tmp_path / "cut" / "checkpoints" / "last.npz"), "--data-dir", str(data_dir)],
                    capsys)
    assert code == 1 and "model.py changed since the run was trained with it" in out.err


def test_batchnorm_reference_run_evaluates_with_its_moving_statistics(tmp_path, data_dir, capsys):
    code, out = run(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--epochs", "1",
                     "--name", "bn", "--batchnorm", "--dropout", "0.2", "--augment"], capsys)
    assert code == 0, out.err
    ckpt = load_checkpoint(tmp_path / "bn" / "checkpoints" / "last.npz")
    assert not np.array_equal(ckpt.state["batch_norm2d.moving_variance"], np.ones(32, np.float32))
    assert "dense.b" not in ckpt.params and "batch_norm1d.gamma" in ckpt.params
    metrics = json.loads((tmp_path / "bn" / "metrics.json").read_text())
    code, out = run(["evaluate", str(tmp_path / "bn" / "checkpoints" / "last.npz"), "--data-dir", str(data_dir),
                     "--json"], capsys)
    assert code == 0 and json.loads(out.out)["accuracy"] == metrics["test_accuracy"]


@pytest.mark.parametrize("flags,message", [
    (["--model", "net.txt:f"], "--model must look like path/to/file.py:function, got 'net.txt:f'"),
    (["--model", "{file}:missing"], "has no function 'missing'"),
    (["--model", "{file}:wrong_classes"], "returned a model with 3 outputs; the data set has 10 classes"),
    (["--model", "{file}:small", "--dropout", "0.1"],
     "--dropout configures the reference network; it does not apply to --model"),
    (["--model", "{file}:small", "--batchnorm"], "--batchnorm configures the reference network"),
])
def test_model_errors_are_one_line(flags, message, tmp_path, data_dir, model_file, capsys):
    flags = [f.format(file=model_file) for f in flags]
    code, out = run(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), *flags], capsys)
    assert code in (1, 2)
    assert message in out.err and "Traceback" not in out.err and len(out.err.strip().splitlines()) == 1
