"""A data_dir given means that directory or a clear error naming it: never a fall-back to another copy (the
cache, $HANDGRAD_DATA, the system package), never a download that completes a partial copy."""
from __future__ import annotations

import numpy as np
import pytest

from handgrad import datasets
from handgrad.datasets import DatasetNotFoundError, load, prepare
from handgrad.datasets.registry import FileSpec


@pytest.fixture
def other_copies(tmp_path, fmt, isolated, monkeypatch):
    """Complete Fashion-MNIST copies everywhere a search would look: none of them may ever be read."""
    monkeypatch.setenv("HANDGRAD_DATA", str(tmp_path / "shared"))
    for d in (tmp_path / "shared" / "fashion-mnist", isolated.cache("fashion-mnist"), isolated.system("fashion-mnist")):
        fmt.write_idx_dataset(d, n_train=20, n_test=10)


def test_empty_data_dir_does_not_fall_back_to_other_copies(tmp_path, other_copies):
    (tmp_path / "mine").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load("fashion-mnist", "test", data_dir=tmp_path / "mine", download=False)
    msg = str(info.value)
    assert f"Searched, in order: {tmp_path / 'mine'}. " in msg and str(tmp_path / "shared") not in msg


def test_missing_data_dir_is_named_and_not_replaced_by_other_copies(tmp_path, other_copies):
    with pytest.raises(DatasetNotFoundError, match=f"download=False; {tmp_path / 'typo'} does not exist"):
        load("fashion-mnist", "test", data_dir=tmp_path / "typo", download=False)
    with pytest.raises(DatasetNotFoundError, match=f"data directory {tmp_path / 'typo'} \\(--data-dir\\) does not "
                                                   "exist"):
        datasets.existing_data_dir(tmp_path / "typo")


def test_data_dir_that_is_a_file(tmp_path, other_copies):
    (tmp_path / "file").write_bytes(b"x")
    for download in (False, True):
        with pytest.raises(DatasetNotFoundError, match=f"data directory {tmp_path / 'file'} .* is a file, not a "
                                                       "directory"):
            load("fashion-mnist", "test", data_dir=tmp_path / "file", download=download)
    with pytest.raises(DatasetNotFoundError, match="is a file, not a directory"):
        datasets.existing_data_dir(tmp_path / "file")


@pytest.mark.parametrize("download", [False, True])
def test_data_dir_without_the_labels_file_names_it(tmp_path, fmt, other_copies, override, download):
    # A server that would deliver the labels: even with download=True a partial copy is never completed.
    server = tmp_path / "server"
    fmt.write_idx_dataset(server, n_train=20, n_test=10)
    override("fashion-mnist", files={split: tuple(FileSpec(f"{stem}.gz", (server / f"{stem}.gz").as_uri(),
                                                           fmt.sha256(server / f"{stem}.gz"))
                                                  for stem in fmt.IDX_STEMS[split]) for split in ("train", "test")})
    mine = tmp_path / "mine"
    fmt.write_idx_dataset(mine, n_train=20, n_test=10)
    (mine / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load("fashion-mnist", "test", data_dir=mine, download=download)
    assert (f"data directory {mine} (data_dir, --data-dir) holds t10k-images-idx3-ubyte.gz but not "
            "t10k-labels-idx1-ubyte[.gz] of Fashion-MNIST's test split" in str(info.value))
    assert sorted(p.name for p in mine.iterdir()) == ["t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz",
                                                      "train-labels-idx1-ubyte.gz"]  # nothing downloaded


def test_cifar_folder_missing_a_batch_names_it(tmp_path, fmt):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, blob in fmt.cifar_python_files(fmt.make_cifar(n_per_batch=2)).items():
        if name != "data_batch_3":
            (folder / name).write_bytes(blob)
    with pytest.raises(DatasetNotFoundError, match=r"but not cifar-10-batches-py/data_batch_3 of CIFAR-10's train"):
        load("cifar10", "train", data_dir=tmp_path, download=True)


def test_prepare_reads_only_the_data_dir(tmp_path, fmt, other_copies):
    written = fmt.write_idx_dataset(tmp_path / "mine", n_train=30, n_test=12, seed=7)
    data = prepare("fashion-mnist", validation_size=0, data_dir=tmp_path / "mine", normalize=False)
    np.testing.assert_array_equal(data.y_test, written["test"][1])
    np.testing.assert_array_equal(data.y_train, written["train"][1])
