"""``--train-limit N``: a run on the first N training images (quick studies); validation and test stay whole."""
import json

import numpy as np

from handgrad import datasets
from handgrad.cli import main
from tests.formats import write_idx_dataset


def test_train_limit_trains_on_the_first_n_training_images(tmp_path, isolated_data, capsys):
    data_dir = tmp_path / "fmnist"
    write_idx_dataset(data_dir, n_train=200, n_test=30)
    argv = ["train", "--data-dir", str(data_dir), "--validation-size", "50", "--batch-size", "10", "--epochs", "1",
            "--no-progress", "--out-dir", str(tmp_path / "runs"), "--name", "r", "--train-limit", "70"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "on 70 fashion-mnist images (50 held out for validation)" in out
    # the images the epoch saw, from its recorded throughput and duration (150 without the limit)
    train = json.loads((tmp_path / "runs" / "r" / "history.json").read_text())[0]["train"]
    assert round(train["images_per_s"] * train["seconds"]) == 70
    full = datasets.prepare("fashion-mnist", validation_size=50, seed=0, data_dir=data_dir)
    assert len(full.x_train) == 150 and len(full.x_test) == 30
    metrics = json.loads((tmp_path / "runs" / "r" / "metrics.json").read_text())
    assert np.isclose(metrics["test"]["accuracy"] * 30, round(metrics["test"]["accuracy"] * 30))


def test_train_limit_must_be_positive(tmp_path, capsys):
    assert main(["train", "--train-limit", "0", "--out-dir", str(tmp_path)]) == 2
    assert "--train-limit must be >= 1, got 0" in capsys.readouterr().err
