"""Search order without data_dir: $HANDGRAD_DATA/<name>, then ~/.cache/handgrad/<name>, then the system directory.
A data_dir given is the only directory used: it is never a step of that search."""
from __future__ import annotations

import shutil

import numpy as np

from handgrad.datasets import candidate_dirs, load


def test_candidate_dirs_order(tmp_path, isolated, monkeypatch):
    monkeypatch.setenv("HANDGRAD_DATA", str(tmp_path / "shared"))
    assert candidate_dirs("fashion-mnist") == [
        tmp_path / "shared" / "fashion-mnist", isolated.cache("fashion-mnist"), isolated.system("fashion-mnist")]
    assert candidate_dirs("fashion-mnist", tmp_path / "mine") == [tmp_path / "mine"]
    monkeypatch.delenv("HANDGRAD_DATA")
    assert candidate_dirs("cifar10") == [isolated.cache("cifar10")]  # no system package for CIFAR-10


def test_first_directory_holding_the_split_wins(tmp_path, fmt, isolated, monkeypatch):
    monkeypatch.setenv("HANDGRAD_DATA", str(tmp_path / "shared"))
    dirs = [tmp_path / "shared" / "fashion-mnist", isolated.cache("fashion-mnist"), isolated.system("fashion-mnist")]
    # Each directory holds a data set with a different seed, hence different labels.
    labels = [fmt.write_idx_dataset(d, n_train=5, n_test=30, seed=k)["test"][1] for k, d in enumerate(dirs)]
    for k, d in enumerate(dirs):
        _, y = load("fashion-mnist", "test", download=False)
        np.testing.assert_array_equal(y, labels[k])
        shutil.rmtree(d)  # remove the winner: the next directory must take over


def test_searched_directory_with_only_one_file_of_the_pair_is_skipped(tmp_path, fmt, isolated, monkeypatch):
    monkeypatch.setenv("HANDGRAD_DATA", str(tmp_path / "shared"))
    (tmp_path / "shared" / "mnist").mkdir(parents=True)
    fmt.write_idx(tmp_path / "shared" / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    labels = fmt.write_idx_dataset(isolated.cache("mnist"), n_train=2, n_test=3)["test"][1]
    _, y = load("mnist", "test", download=False)
    np.testing.assert_array_equal(y, labels)
