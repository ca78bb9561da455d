"""Data sets for handgrad: Fashion-MNIST (the default), MNIST and CIFAR-10.

- ``load(name, split)``: ``(x, y)``, float32 NCHW in [0, 1] and int64 labels; finds the files (or
  downloads and verifies them), reads IDX / CIFAR batches without ``pickle.load``.
- ``prepare(name)``: train / validation / test, normalized with training statistics -> ``DataSplits``.
- ``minibatches(x, y, batch_size, rng)``: seeded shuffling, optional ``augment``.
- ``RandomCrop``, ``RandomHorizontalFlip``, ``RandomCropFlip``, ``RandomErasing``: augmentations
  ``augment(xb, rng)``; ``Compose`` chains them.
- ``python -m handgrad.datasets fetch NAME``: make sure the files are on disk.
"""
from handgrad.datasets.augment import Compose, RandomCrop, RandomCropFlip, RandomErasing, RandomHorizontalFlip
from handgrad.datasets.batches import minibatches, num_batches
from handgrad.datasets.errors import (
                                      ChecksumError,
                                      DatasetError,
                                      DatasetFormatError,
                                      DatasetNotFoundError,
                                      DownloadError,
                                      ForbiddenGlobalError,
)
from handgrad.datasets.loading import find, load
from handgrad.datasets.locate import candidate_dirs, existing_data_dir
from handgrad.datasets.registry import DATASETS, SPLITS, class_names
from handgrad.datasets.splits import DataSplits, prepare

NAMES = tuple(DATASETS)

__all__ = ["DATASETS", "NAMES", "SPLITS", "ChecksumError", "Compose", "DataSplits", "DatasetError",
           "DatasetFormatError", "DatasetNotFoundError", "DownloadError", "ForbiddenGlobalError", "RandomCrop",
           "RandomCropFlip", "RandomErasing", "RandomHorizontalFlip", "candidate_dirs", "class_names",
           "existing_data_dir", "find", "load", "minibatches", "num_batches", "prepare"]
