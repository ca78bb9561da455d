"""What each data set is: its files, where they come from, their checksums, its shape and class names.

``DATASETS`` maps a name to a ``DatasetSpec``; every function looks a spec up through ``get`` at call
time, so tests can swap an entry (``monkeypatch.setitem(registry.DATASETS, name, spec)``), e.g. to
point the URLs at ``file://`` copies or the system directory at a temporary one.

Checksums (SHA-256 of the file as served at ``url``):

- Fashion-MNIST: TensorFlow Datasets ``url_checksums/fashion_mnist.txt`` (sizes and hashes); the
  publisher lists the MD5s of the same files in its README.
- MNIST: TensorFlow Datasets ``url_checksums/mnist.txt`` (the files of yann.lecun.com, mirrored unchanged
  at ``ossci-datasets`` and ``cvdf-datasets``).
- CIFAR-10: TensorFlow Datasets ``url_checksums/cifar10.csv`` and Keras's ``cifar10.load_data``
  (``file_hash``).

``content_sha256`` is the SHA-256 of the *decompressed* IDX file. It lets a copy that was re-gzipped be
recognized as the official data: the ``.gz`` files of Debian's ``dataset-fashion-mnist`` were
recompressed (their gzip header lacks the original file name and carries a 2020 time stamp), so their
bytes differ from the official ones while their content is identical. The Fashion-MNIST values were
computed from those Debian files and equal the decompressed hashes published by other projects (and the
decompressed MD5s listed beside the publisher's MD5s); the MNIST values are the published ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handgrad._validation import check_choice

SPLITS = ("train", "test")


@dataclass(frozen=True)
class FileSpec:
    """One downloadable file.

    Args:
        filename: its name on disk (also the last part of ``url``).
        url: where to download it from.
        sha256: SHA-256 (hex) of the file as served at ``url``.
        size: its size in bytes, for the progress bar when the server sends no Content-Length.
        content_sha256: SHA-256 of the decompressed bytes of a ``.gz`` file, or None.
    """

    filename: str
    url: str
    sha256: str
    size: int | None = None
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One data set.

    Args:
        name: its registry name (``"fashion-mnist"``).
        title: its usual spelling, for messages (``"Fashion-MNIST"``).
        format: ``"idx"`` (the MNIST family) or ``"cifar"``.
        shape: per-sample shape ``(C, H, W)``.
        class_names: label ``k`` is ``class_names[k]``.
        files: split -> the files to download for that split.
        homepage: where a person can read about it and download it by hand.
        system_dirs: directories an operating-system package installs it to (searched last).
        apt_package: the Debian/Ubuntu package that provides it, or None.
        alternates: other official files that are read when found but never downloaded (their checksums
            let ``fetch`` verify them).
    """

    name: str
    title: str
    format: str
    shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    files: dict[str, tuple[FileSpec, ...]]
    homepage: str
    system_dirs: tuple[Path, ...] = ()
    apt_package: str | None = None
    alternates: tuple[FileSpec, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def all_files(self) -> tuple[FileSpec, ...]:
        """Every downloadable file of every split, each once, in split order."""
        seen: dict[str, FileSpec] = {}
        for split in SPLITS:
            for f in self.files[split]:
                seen.setdefault(f.filename, f)
        return tuple(seen.values())


def _idx_files(base_url: str, sizes_sha: dict[str, tuple[int, str, str]]) -> dict[str, tuple[FileSpec, ...]]:
    """Build the ``files`` table of an IDX data set from ``stem -> (size, sha256, content_sha256)``."""
    def spec(stem):
        size, sha, content = sizes_sha[stem]
        return FileSpec(f"{stem}.gz", f"{base_url}{stem}.gz", sha, size, content)

    return {"train": (spec("train-images-idx3-ubyte"), spec("train-labels-idx1-ubyte")),
            "test": (spec("t10k-images-idx3-ubyte"), spec("t10k-labels-idx1-ubyte"))}


_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# The official S3 website endpoint only speaks http; the SHA-256 check is what makes the download safe.
_FASHION = _idx_files(_FASHION_URL, {
    "train-images-idx3-ubyte": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
})

# yann.lecun.com is often down (or asks for a login); PyTorch's mirror serves the same bytes.
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST = _idx_files(_MNIST_URL, {
    "train-images-idx3-ubyte": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
})

# One archive holds both splits.
_CIFAR10_ARCHIVE = FileSpec("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071)

DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist", title="Fashion-MNIST", format="idx", shape=(1, 28, 28),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                     "Ankle boot"),
        files=_FASHION, homepage="https://github.com/zalandoresearch/fashion-mnist",
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),), apt_package="dataset-fashion-mnist"),
    "mnist": DatasetSpec(
        name="mnist", title="MNIST", format="idx", shape=(1, 28, 28),
        class_names=tuple(str(d) for d in range(10)),
        files=_MNIST, homepage="http://yann.lecun.com/exdb/mnist/"),
    "cifar10": DatasetSpec(
        name="cifar10", title="CIFAR-10", format="cifar", shape=(3, 32, 32),
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        files={"train": (_CIFAR10_ARCHIVE,), "test": (_CIFAR10_ARCHIVE,)},
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        # The binary version; hash from TensorFlow Datasets' url_checksums/cifar10.txt.
        alternates=(FileSpec("cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                             "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170052171),)),
}


def get(name: str) -> DatasetSpec:
    """The spec of data set ``name``; ValueError listing the known names otherwise."""
    check_choice("datasets", "name", name, tuple(DATASETS))
    return DATASETS[name]


def check_split(split: str) -> str:
    """Return ``split`` if it is ``"train"`` or ``"test"``; ValueError listing both otherwise."""
    return check_choice("datasets", "split", split, SPLITS)


def class_names(name: str) -> list[str]:
    """The class names of data set ``name``: label ``k`` is ``class_names(name)[k]``."""
    return list(get(name).class_names)
