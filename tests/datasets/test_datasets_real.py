"""The real Fashion-MNIST test split, from the Debian package, when it is installed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handgrad.datasets import load

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"{DEBIAN_DIR} is absent (sudo apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_test_split():
    x, y = load("fashion-mnist", "test", data_dir=DEBIAN_DIR, download=False)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (10000,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [1000] * 10)
    assert x.min() == 0.0 and x.max() == 1.0
    # Known facts: the first test image is an ankle boot (label 9, as in TensorFlow's classification tutorial);
    # the test set's mean pixel is 0.2868 (0.2860 on the training set, the usual normalization constant).
    assert y[0] == 9
    assert abs(float(x.mean(dtype=np.float64)) - 0.2868) < 1e-3
