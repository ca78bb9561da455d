"""prepare(): a seeded, disjoint hold-out; normalization statistics from the training part only."""
from __future__ import annotations

import numpy as np
import pytest

from handgrad.datasets import class_names, prepare


@pytest.fixture
def data_dir(tmp_path, fmt):
    d = tmp_path / "fm"
    fmt.write_idx_dataset(d, n_train=400, n_test=100, seed=3)
    return d


def _rows(x):
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def test_split_is_disjoint_complete_and_seeded(data_dir):
    a = prepare("fashion-mnist", validation_size=100, seed=1, data_dir=data_dir, normalize=False)
    b = prepare("fashion-mnist", validation_size=100, seed=1, data_dir=data_dir, normalize=False)
    c = prepare("fashion-mnist", validation_size=100, seed=2, data_dir=data_dir, normalize=False)
    assert a.x_train.shape == (300, 1, 28, 28) and a.x_val.shape == (100, 1, 28, 28) and a.x_test.shape[0] == 100
    assert _rows(a.x_train).isdisjoint(_rows(a.x_val))  # random 784-pixel images: no duplicates by chance
    from handgrad.datasets import load
    x_full, y_full = load("fashion-mnist", "train", data_dir=data_dir)
    assert _rows(a.x_train) | _rows(a.x_val) == _rows(x_full)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert _rows(a.x_val) != _rows(c.x_val)
    # Labels travel with their images.
    lookup = {row.tobytes(): label for row, label in zip(x_full.reshape(400, -1), y_full)}
    assert [lookup[r.tobytes()] for r in a.x_val.reshape(100, -1)] == a.y_val.tolist()


def test_normalization_uses_training_part_only(data_dir):
    raw = prepare("fashion-mnist", validation_size=100, seed=5, data_dir=data_dir, normalize=False)
    s = prepare("fashion-mnist", validation_size=100, seed=5, data_dir=data_dir)
    x64 = raw.x_train.astype(np.float64)
    mean, std = x64.mean(axis=(0, 2, 3)), x64.std(axis=(0, 2, 3))  # direct reference
    np.testing.assert_allclose(s.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(s.std, std, rtol=1e-6)
    full = np.concatenate([raw.x_train, raw.x_val]).astype(np.float64)
    assert abs(full.mean() - mean[0]) > 1e-6  # the statistics really differ from the full split's
    for part in ("train", "val", "test"):
        got, before = getattr(s, f"x_{part}"), getattr(raw, f"x_{part}")
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, (before - mean[:, None, None]) / std[:, None, None], atol=2e-6)
    assert abs(s.x_train.mean()) < 1e-5 and abs(s.x_train.std() - 1) < 1e-5
    assert raw.mean.tolist() == [0.0] and raw.std.tolist() == [1.0]


def test_per_channel_statistics_on_cifar(tmp_path, fmt):
    data = fmt.make_cifar(n_per_batch=20)
    (tmp_path / "cifar-10-batches-py").mkdir()
    for name, blob in fmt.cifar_python_files(data).items():
        (tmp_path / "cifar-10-batches-py" / name).write_bytes(blob)
    s = prepare("cifar10", validation_size=10, seed=0, data_dir=tmp_path)
    raw = prepare("cifar10", validation_size=10, seed=0, data_dir=tmp_path, normalize=False)
    assert s.mean.shape == (3,) and s.std.shape == (3,) and s.mean.dtype == np.float32
    np.testing.assert_allclose(s.mean, raw.x_train.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(s.std, raw.x_train.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-6)
    assert s.class_names == class_names("cifar10") and s.name == "cifar10" and s.input_shape == (3, 32, 32)


def test_validation_size_zero_gives_empty_arrays(data_dir):
    s = prepare("fashion-mnist", validation_size=0, data_dir=data_dir)
    assert s.x_val.shape == (0, 1, 28, 28) and s.x_val.dtype == np.float32
    assert s.y_val.shape == (0,) and s.y_val.dtype == np.int64
    assert s.x_train.shape[0] == 400 and s.num_classes == 10


@pytest.mark.parametrize("kwargs, error, message", [
    ({"validation_size": 400}, ValueError, r"validation_size \(--validation-size\) must be in \[0, 400\).*got 400"),
    ({"validation_size": -1}, ValueError, "validation_size must be >= 0, got -1"),
    ({"validation_size": 10.0}, TypeError, "validation_size must be an integer, got 10.0"),
    ({"seed": -3}, ValueError, "seed must be >= 0, got -3"),
    ({"normalize": 1}, TypeError, "normalize must be a bool, got 1"),
    ({"name": "svhn"}, ValueError, "name must be one of 'fashion-mnist', 'mnist', 'cifar10', got 'svhn'"),
])
def test_bad_arguments(data_dir, kwargs, error, message):
    with pytest.raises(error, match=message):
        prepare(**{"data_dir": data_dir, **kwargs})


def test_class_names():
    assert class_names("fashion-mnist") == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                            "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert class_names("mnist") == [str(d) for d in range(10)]
    assert class_names("cifar10") == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                      "ship", "truck"]
