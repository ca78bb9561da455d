"""Tiny Fashion-MNIST files for the notebooks: real IDX files (gzip), images with a class-dependent pattern so
that a short training learns something, written to ``$HANDGRAD_DATA/fashion-mnist`` of the kernel."""
from pathlib import Path

import numpy as np
import pytest

from tests.formats import IDX_STEMS, write_idx


def fashion_like(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images and labels: class k is a bright band at rows 2k+4..2k+8 on noise."""
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 90, size=(n, 28, 28)).astype(np.int32)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4:2 * k + 8, 4:24] += 150
    return np.clip(images, 0, 255).astype(np.uint8), labels


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
