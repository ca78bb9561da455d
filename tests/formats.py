"""Writers of small data sets in the official file formats (IDX, CIFAR-10 python and binary batches, tar.gz),
written here independently of the code under test; shared by the dataset, CLI and example tests."""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


# ------------------------------------------------------------------ IDX
def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding: 0x00 0x00 0x08 ndim, big-endian uint32 dims, then the uint8 data row-major."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


IDX_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def write_idx_dataset(directory: Path, n_train=300, n_test=100, seed=0, gz=True, num_classes=10):
    """Random MNIST-shaped images and labels in ``directory``; returns {split: (images (N,28,28), labels)}."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, num_classes, size=n, dtype=np.uint8)
        img_stem, lbl_stem = IDX_STEMS[split]
        suffix = ".gz" if gz else ""
        write_idx(directory / f"{img_stem}{suffix}", images, gz)
        write_idx(directory / f"{lbl_stem}{suffix}", labels, gz)
        out[split] = (images, labels)
    return out


# ------------------------------------------------------------------ CIFAR-10
class Py2Pickler(pickle._Pickler):
    """Protocol 2 the way Python 2 wrote it: ``str`` and ``bytes`` as BINSTRING opcodes (Python 2's ``str``),
    so that ``encoding="bytes"`` must be used to read them back, as with the official CIFAR-10 batches."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def py2_pickle(obj, numpy1_names: bool = True) -> bytes:
    """Pickle ``obj`` like Python 2 + NumPy 1 did (global ``numpy.core.multiarray._reconstruct``)."""
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    if numpy1_names:
        data = data.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n")
    return data


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """The official row layout, built plane by plane: 1024 red values, then green, then blue, each row-major."""
    return np.stack([np.concatenate([img[0].ravel(), img[1].ravel(), img[2].ravel()]) for img in images])


PY_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def make_cifar(n_per_batch=20, seed=0):
    """{split: (images uint8 (N,3,32,32), labels int (N,))} with 5 train batches and 1 test batch."""
    rng = np.random.default_rng(seed)
    return {split: (rng.integers(0, 256, size=(len(b) * n_per_batch, 3, 32, 32), dtype=np.uint8),
                    rng.integers(0, 10, size=len(b) * n_per_batch))
            for split, b in PY_BATCHES.items()}


def cifar_python_files(data, numpy1_names=True) -> dict[str, bytes]:
    """{batch name: pickle bytes}: dicts with b"batch_label", b"labels" (list), b"data" (N, 3072), b"filenames"."""
    files = {}
    for split, names in PY_BATCHES.items():
        images, labels = data[split]
        per = len(images) // len(names)
        for k, name in enumerate(names):
            sl = slice(k * per, (k + 1) * per)
            batch = {b"batch_label": f"batch {k}".encode(), b"labels": [int(v) for v in labels[sl]],
                     b"data": cifar_rows(images[sl]), b"filenames": [f"img{i}.png".encode() for i in range(per)]}
            files[name] = py2_pickle(batch, numpy1_names)
    return files


def cifar_binary_files(data) -> dict[str, bytes]:
    """{batch name.bin: bytes}: records of 1 label byte followed by the 3072-byte row."""
    files = {}
    for split, names in PY_BATCHES.items():
        images, labels = data[split]
        per = len(images) // len(names)
        for k, name in enumerate(names):
            rows = cifar_rows(images[k * per:(k + 1) * per])
            records = [bytes([int(labels[k * per + i])]) + rows[i].tobytes() for i in range(per)]
            files[f"{name}.bin"] = b"".join(records)
    return files


def write_tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
