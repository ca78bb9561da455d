"""Tiny Fashion-MNIST files for the notebooks: real IDX files (gzip), images with a class-dependent pattern so
that a short training learns something, written to ``$HANDGRAD_DATA/fashion-mnist`` of the kernel."""
from pathlib import Path

import numpy as np
import pytest

from tests.formats import IDX_STEMS, write_idx


def fashion_like(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images and labels, Fashion-MNIST-like: a black background and a textured object,
    class k a band at rows 2k+4..2k+10 whose width varies per image."""
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, k in enumerate(labels):
        left, right = rng.integers(2, 8), rng.integers(20, 26)
        images[i, 2 * k + 4:2 * k + 10, left:right] = rng.integers(60, 256, size=(6, right - left))
    return images, labels


def write_fashion_mnist(root: Path, n_train: int = 480, n_test: int = 160, seed: int = 0) -> Path:
    """``root/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``; returns ``root``."""
    directory = root / "fashion-mnist"
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = fashion_like(n, rng)
        image_stem, label_stem = IDX_STEMS[split]
        write_idx(directory / f"{image_stem}.gz", images)
        write_idx(directory / f"{label_stem}.gz", labels)
    return root


@pytest.fixture(scope="session")
def notebook_data(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("handgrad-data"))
