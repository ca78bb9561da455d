"""A data set ready for training: train / validation / test, normalized with training statistics only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handgrad._validation import check_int
from handgrad.datasets import loading, registry


@dataclass
class DataSplits:
    """The three parts of a prepared data set.

    Shape:
        ``x_*``: float32 ``(N_*, C, H, W)``; ``y_*``: int64 ``(N_*,)``; ``mean``, ``std``: float32 ``(C,)``.
        ``N_train + N_val`` is the size of the official training split, ``N_test`` of the test split.

    ``mean`` and ``std`` are what was applied, ``x = (pixel / 255 - mean[c]) / std[c]`` per channel ``c``:
    zeros and ones when ``normalize=False``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    class_names: list[str]
    name: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Per-sample shape ``(C, H, W)``."""
        return tuple(self.x_train.shape[1:])


def split_indices(n: int, validation_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: a seeded random hold-out of ``validation_size`` of ``range(n)``.

    ``perm = default_rng(seed).permutation(n)``; ``val_idx = sort(perm[:validation_size])`` and
    ``train_idx = sort(perm[validation_size:])`` (sorted: a subset keeps the file's order).
    """
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[validation_size:]), np.sort(perm[:validation_size])


def channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population standard deviation over ``(N, H, W)``, accumulated in float64.

    ``mean[c] = sum x[:, c] / M``, ``std[c] = sqrt(sum (x[:, c] - mean[c])^2 / M)`` with ``M = N * H * W``;
    two passes over chunks of ``chunk`` samples, so memory stays small and no cancellation occurs.

    Shape:
        ``x``: ``(N, C, H, W)``; returns two float32 ``(C,)``.
    """
    N, C, H, W = x.shape
    total = np.zeros(C)
    for lo in range(0, N, chunk):
        total += x[lo:lo + chunk].sum(axis=(0, 2, 3), dtype=np.float64)
    mean = total / (N * H * W)
    sq = np.zeros(C)
    for lo in range(0, N, chunk):
        d = x[lo:lo + chunk] - mean[:, None, None]  # (n, C, H, W) float64
        sq += np.square(d).sum(axis=(0, 2, 3))
    return mean.astype(np.float32), np.sqrt(sq / (N * H * W)).astype(np.float32)


def prepare(name: str = "fashion-mnist", validation_size: int = 5000, seed: int = 0, data_dir=None,
            normalize: bool = True) -> DataSplits:
    """Load a data set, hold a validation part out of its training split, and normalize all three parts.

    Args:
        name: ``"fashion-mnist"`` (default, the project's data set), ``"mnist"`` or ``"cifar10"``.
        validation_size: number of training samples held out, in ``[0, N_train)`` (default 5000; 0 gives
            empty validation arrays).
        seed: seeds the hold-out permutation (default 0): same seed, same split.
        data_dir: passed to ``load``.
        normalize: subtract the per-channel mean and divide by the per-channel std of the training part
            (after the hold-out: neither validation nor test data leak into the statistics). Default True.
    """
    spec = registry.get(name)
    validation_size = check_int("prepare", "validation_size", validation_size, minimum=0)
    seed = check_int("prepare", "seed", seed, minimum=0)
    if not isinstance(normalize, bool):
        raise TypeError(f"prepare: normalize must be a bool, got {normalize!r} ({type(normalize).__name__})")
    x_full, y_full = loading.load(name, "train", data_dir=data_dir)
    if validation_size >= len(x_full):
        raise ValueError(f"prepare: validation_size (--validation-size) must be in [0, {len(x_full)}) for "
                         f"{spec.title}'s {len(x_full)} training samples, got {validation_size}")
    x_test, y_test = loading.load(name, "test", data_dir=data_dir)
    train_idx, val_idx = split_indices(len(x_full), validation_size, seed)
    x_train, y_train = x_full[train_idx], y_full[train_idx]
    x_val, y_val = x_full[val_idx], y_full[val_idx]
    del x_full
    C = x_train.shape[1]
    mean, std = np.zeros(C, np.float32), np.ones(C, np.float32)
    if normalize:
        mean, std = channel_stats(x_train)
        if np.any(std == 0):
            raise ValueError(f"prepare: a channel of {spec.title}'s training part is constant (std {std}); "
                             f"cannot normalize, pass normalize=False")
        for x in (x_train, x_val, x_test):  # in place: these are fresh float32 copies
            x -= mean[None, :, None, None]
            x /= std[None, :, None, None]
    return DataSplits(x_train, y_train, x_val, y_val, x_test, y_test, mean, std, list(spec.class_names), name)
