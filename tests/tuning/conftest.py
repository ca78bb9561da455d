"""Fixtures of the tuning tests: a tiny learnable data set in the real IDX format, the flags that make a trial
last a second, and helpers that read a study straight from its storage with Optuna."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from tests.formats import IDX_STEMS, write_idx

# 120 training images (40 more held out for validation) in batches of 20: 6 steps per epoch.
TINY = ["--validation-size", "40", "--batch-size", "20", "--warmup-epochs", "0", "--schedule", "constant",
        "--no-progress"]


def write_learnable_idx(directory: Path, n_train=160, n_test=40, seed=0) -> Path:
    """MNIST-shaped images whose class ``c`` is a bright 8x4 block at row ``c // 5``, column ``c % 5``, on noise:
    a few steps of a good learning rate separate the classes, a learning rate of 1e-7 stays at chance."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        y = rng.integers(0, 10, size=n)
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, c in enumerate(y):
            r, col = divmod(int(c), 5)
            x[i, 4 + 10 * r:12 + 10 * r, 1 + 5 * col:5 + 5 * col] += 180
        images, labels = IDX_STEMS[split]
        write_idx(directory / f"{images}.gz", x.astype(np.uint8))
        write_idx(directory / f"{labels}.gz", y.astype(np.uint8))
    return directory


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_learnable_idx(tmp_path_factory.mktemp("tune-data") / "fmnist")


@pytest.fixture(scope="session")
def longer_data(tmp_path_factory) -> Path:
    """Ten times ``tiny_data``'s training images: epochs long enough (~80 steps) that a signal sent after the
    first epoch's report arrives while the trial still runs (tiny_data's 6-step epochs could all finish first)."""
    return write_learnable_idx(tmp_path_factory.mktemp("tune-data-longer") / "fmnist", n_train=1640)


def worker_env(home: Path) -> dict:
    """A worker subprocess's environment: one kernel thread (two workers share two cores), no real home."""
    env = {**os.environ, "HANDGRAD_NUM_THREADS": "1", "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("HANDGRAD_DATA", None)
    return env


def worker_command(*args) -> list[str]:
    return [sys.executable, "-m", "handgrad", "tune", *args]


def load(study: str, url: str) -> optuna.Study:
    from handgrad.tuning.storage import open_storage

    return optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=60))


def by_state(trials) -> dict[str, list]:
    out: dict[str, list] = {}
    for t in trials:
        out.setdefault(t.state.name, []).append(t)
    return out
