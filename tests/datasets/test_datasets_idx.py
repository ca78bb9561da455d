"""IDX reading (MNIST, Fashion-MNIST): exact values from files written by an independent writer, and clear
errors that name the file for every kind of damage."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from handgrad.datasets import DatasetFormatError, load
from handgrad.datasets.idx import read_idx


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_exact_values(tmp_path, fmt, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    got_images = read_idx(fmt.write_idx(tmp_path / "img", images, gz))
    got_labels = read_idx(fmt.write_idx(tmp_path / "lbl", labels, gz))
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_header_is_big_endian(tmp_path):
    # A 2x3 array written byte by byte: dims 2 and 3 as big-endian uint32.
    data = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 10, 11, 12, 20, 21, 22])
    (tmp_path / "a").write_bytes(data)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), [[10, 11, 12], [20, 21, 22]])


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_load_from_data_dir(tmp_path, fmt, name, gz):
    written = fmt.write_idx_dataset(tmp_path / "d", n_train=300, n_test=120, gz=gz)
    for split in ("train", "test"):
        x, y = load(name, split, data_dir=tmp_path / "d", download=False)
        images, labels = written[split]
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (len(images), 1, 28, 28) and y.shape == (len(images),)
        np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, labels)
        assert x.min() >= 0 and x.max() <= 1


def _damage_cases(fmt):
    good = fmt.idx_bytes((np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28))
    gz = gzip.compress(good)
    return {
        "truncated gzip": (gz[: len(gz) // 2], "truncated or corrupt gzip"),
        "corrupt gzip": (gz[:20] + bytes(len(gz) - 28) + gz[-8:], "truncated or corrupt gzip"),
        "truncated data": (good[:-5], "truncated: header says shape (2, 28, 28)"),
        "trailing bytes": (good + b"xx", "has trailing bytes"),
        "truncated header": (good[:9], "truncated IDX header"),
        "empty": (b"", "not an IDX file"),
        "bad magic": (b"\x01\x02" + good[2:], "not an IDX file"),
        "float elements": (good[:2] + b"\x0d" + good[3:], "element type 0x0d is not supported"),
        "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
        "huge dims": (b"\x00\x00\x08\x04" + b"\xff" * 16 + b"abc", "truncated: header says shape (4294967295,"),
    }


@pytest.mark.parametrize("case", ["truncated gzip", "corrupt gzip", "truncated data", "trailing bytes",
                                  "truncated header", "empty", "bad magic", "float elements", "zero dims",
                                  "huge dims"])
def test_damaged_file_gives_clear_error(tmp_path, fmt, case):
    data, expected = _damage_cases(fmt)[case]
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(DatasetFormatError) as info:
        read_idx(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_load_reports_damaged_file_by_name(tmp_path, fmt):
    fmt.write_idx_dataset(tmp_path, n_train=5, n_test=5)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.raises(DatasetFormatError, match="t10k-labels-idx1-ubyte.gz"):
        load("fashion-mnist", "test", data_dir=tmp_path, download=False)


def test_mismatched_counts_and_shapes(tmp_path, fmt):
    fmt.write_idx_dataset(tmp_path, n_train=5, n_test=5)
    fmt.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DatasetFormatError, match="holds 5 images but .* holds 4 labels"):
        load("mnist", "test", data_dir=tmp_path, download=False)
    fmt.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros((5, 1), np.uint8))
    with pytest.raises(DatasetFormatError, match="expected a 1-D IDX array"):
        load("mnist", "test", data_dir=tmp_path, download=False)
    fmt.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(5, 10, np.uint8))
    with pytest.raises(DatasetFormatError, match=r"labels must lie in \[0, 10\), found values from 10 to 10"):
        load("mnist", "test", data_dir=tmp_path, download=False)
    fmt.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 32, 32), np.uint8))
    fmt.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DatasetFormatError, match=r"images have shape \(1, 32, 32\), expected \(1, 28, 28\)"):
        load("mnist", "test", data_dir=tmp_path, download=False)


def test_gz_preferred_and_raw_accepted_by_content_not_name(tmp_path, fmt):
    # A gzipped file without the .gz suffix is still gunzipped (detected by its magic bytes).
    images = np.full((3, 28, 28), 7, np.uint8)
    fmt.write_idx(tmp_path / "t10k-images-idx3-ubyte", images, gz=True)
    fmt.write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([1, 2, 3], np.uint8), gz=False)
    x, y = load("mnist", "test", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(x, np.full((3, 1, 28, 28), np.float32(7) / np.float32(255)))
    np.testing.assert_array_equal(y, [1, 2, 3])


@pytest.mark.parametrize("bad", [("kmnist", "test"), ("mnist", "val")])
def test_unknown_name_or_split_lists_valid_ones(bad):
    with pytest.raises(ValueError) as info:
        load(*bad)
    if bad[0] == "kmnist":
        assert all(n in str(info.value) for n in ("'fashion-mnist'", "'mnist'", "'cifar10'", "'kmnist'"))
    else:
        assert all(n in str(info.value) for n in ("'train'", "'test'", "'val'"))
