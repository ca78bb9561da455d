"""CIFAR-10 in its four official shapes (python batches, their tar.gz, binary batches, their tar.gz): exact
pixels in NCHW, labels, dtypes; archives read without extracting anything."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from handgrad.datasets import DatasetFormatError, load
from handgrad.datasets.cifar import find_split


def _write(tmp_path, fmt, layout, data):
    root = tmp_path / "cifar"
    root.mkdir()
    if layout.startswith("python"):
        files, folder, tar = fmt.cifar_python_files(data), "cifar-10-batches-py", "cifar-10-python.tar.gz"
    else:
        files, folder, tar = fmt.cifar_binary_files(data), "cifar-10-batches-bin", "cifar-10-binary.tar.gz"
    if layout.endswith("tar"):
        fmt.write_tar_gz(root / tar, {f"{folder}/{name}": blob for name, blob in files.items()})
    else:
        (root / folder).mkdir()
        for name, blob in files.items():
            (root / folder / name).write_bytes(blob)
    return root


@pytest.mark.parametrize("layout", ["python-dir", "python-tar", "binary-dir", "binary-tar"])
def test_load_exact_values_nchw(tmp_path, fmt, layout):
    data = fmt.make_cifar(n_per_batch=20)
    root = _write(tmp_path, fmt, layout, data)
    for split in ("train", "test"):
        assert find_split(root, split).layout == f"cifar-{layout}"
        x, y = load("cifar10", split, data_dir=root, download=False)
        images, labels = data[split]
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (len(images), 3, 32, 32) and y.shape == (len(images),)
        np.testing.assert_array_equal(x, images.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, labels)


def test_row_layout_is_planar_rgb_row_major(tmp_path, fmt):
    # One image whose value encodes its position: R plane 0.., then G, then B; each row-major 32x32.
    row = (np.arange(3072) % 251).astype(np.uint8)
    blob = fmt.py2_pickle({b"data": row[None], b"labels": [3]})
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    (root / "test_batch").write_bytes(blob)
    x, y = load("cifar10", "test", data_dir=tmp_path, download=False)
    for c, i, j in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (2, 31, 31), (1, 5, 17)]:
        assert x[0, c, i, j] == np.float32(row[c * 1024 + i * 32 + j]) / np.float32(255)
    assert y.tolist() == [3]


def test_numpy2_global_and_python3_str_keys_are_accepted(tmp_path, fmt):
    # Pickled by Python 3 + NumPy 2 (global numpy._core..., keys as str): readable too.
    data = fmt.make_cifar(n_per_batch=2)
    images, labels = data["test"]
    blob = pickle.dumps({"data": fmt.cifar_rows(images), "labels": labels.tolist()}, protocol=2)
    assert b"numpy._core.multiarray" in blob or b"numpy.core.multiarray" in blob
    (tmp_path / "test_batch").write_bytes(blob)
    x, y = load("cifar10", "test", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(x, images / np.float32(255))
    np.testing.assert_array_equal(y, labels)


def test_extracted_directory_preferred_to_archive(tmp_path, fmt):
    data = fmt.make_cifar(n_per_batch=2, seed=1)
    other = fmt.make_cifar(n_per_batch=2, seed=2)
    root = _write(tmp_path, fmt, "python-dir", data)
    fmt.write_tar_gz(root / "cifar-10-python.tar.gz", {f"cifar-10-batches-py/{n}": b
                                                       for n, b in fmt.cifar_python_files(other).items()})
    _, y = load("cifar10", "test", data_dir=root, download=False)
    np.testing.assert_array_equal(y, data["test"][1])


def test_archive_members_are_not_extracted(tmp_path, fmt, monkeypatch):
    # A hostile archive: a path-traversal member and an absolute one beside the real batch.
    data = fmt.make_cifar(n_per_batch=2)
    members = {f"cifar-10-batches-py/{n}": b for n, b in fmt.cifar_python_files(data).items()}
    members["../escaped.txt"] = b"x"
    members[str(tmp_path / "absolute.txt")] = b"x"
    root = tmp_path / "root"
    root.mkdir()
    fmt.write_tar_gz(root / "cifar-10-python.tar.gz", members)
    monkeypatch.chdir(root)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    _, y = load("cifar10", "test", data_dir=root, download=False)
    np.testing.assert_array_equal(y, data["test"][1])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_archive_missing_member_and_truncated_archive(tmp_path, fmt):
    data = fmt.make_cifar(n_per_batch=2)
    files = fmt.cifar_python_files(data)
    archive = fmt.write_tar_gz(tmp_path / "cifar-10-python.tar.gz", {"cifar-10-batches-py/test_batch":
                                                                    files["test_batch"]})
    with pytest.raises(DatasetFormatError, match="archive has no member cifar-10-batches-py/data_batch_1"):
        load("cifar10", "train", data_dir=tmp_path, download=False)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DatasetFormatError, match=f"{archive}: truncated or corrupt archive"):
        load("cifar10", "test", data_dir=tmp_path, download=False)


@pytest.mark.parametrize("damage, message", [
    ("truncated pickle", "truncated or corrupt pickle"),
    ("not a dict", "expected a pickled dict, got list"),
    ("no labels", "no key b'labels'"),
    ("float data", "b'data' must be a uint8 array of shape"),
    ("label count", "b'labels' must be 2 integers"),
    ("truncated binary", "is not a positive multiple of the 3073-byte record"),
])
def test_damaged_batches_give_clear_errors(tmp_path, fmt, damage, message):
    images, labels = fmt.make_cifar(n_per_batch=2)["test"]
    rows = fmt.cifar_rows(images)
    name = "test_batch.bin" if damage == "truncated binary" else "test_batch"
    blob = {
        "truncated pickle": lambda: fmt.py2_pickle({b"data": rows, b"labels": labels.tolist()})[:-100],
        "not a dict": lambda: fmt.py2_pickle([1, 2]),
        "no labels": lambda: fmt.py2_pickle({b"data": rows}),
        "float data": lambda: fmt.py2_pickle({b"data": rows.astype(np.float64), b"labels": labels.tolist()}),
        "label count": lambda: fmt.py2_pickle({b"data": rows, b"labels": [1, 2, 3]}),
        "truncated binary": lambda: fmt.cifar_binary_files(fmt.make_cifar(n_per_batch=2))["test_batch.bin"][:-1],
    }[damage]()
    (tmp_path / name).write_bytes(blob)
    with pytest.raises(DatasetFormatError) as info:
        load("cifar10", "test", data_dir=tmp_path, download=False)
    assert str(tmp_path / name) in str(info.value) and message in str(info.value)
