"""Downloads through file:// URLs: verified, atomic, with a progress bar; a bad checksum or a broken
connection leaves nothing behind; offline, the error says where to look and what to put there."""
from __future__ import annotations

import io
import urllib.request

import numpy as np
import pytest

from handgrad.datasets import ChecksumError, DatasetNotFoundError, DownloadError, load
from handgrad.datasets.download import download
from handgrad.datasets.registry import FileSpec


@pytest.fixture
def served(tmp_path, fmt, override):
    """A synthetic Fashion-MNIST "server" directory, and the registry pointed at it with the right hashes."""
    server = tmp_path / "server"
    written = fmt.write_idx_dataset(server, n_train=60, n_test=40)
    files = {split: tuple(FileSpec(f"{stem}.gz", (server / f"{stem}.gz").as_uri(), fmt.sha256(server / f"{stem}.gz"),
                                   (server / f"{stem}.gz").stat().st_size) for stem in fmt.IDX_STEMS[split])
             for split in ("train", "test")}
    override("fashion-mnist", files=files)
    return written, files


def test_file_url_download_verifies_and_lands(tmp_path, served, capsys):
    _, files = served
    spec = files["test"][0]
    dest_dir = tmp_path / "dest"
    path = download(spec, dest_dir, progress=True)
    assert path == dest_dir / spec.filename
    assert path.read_bytes() == (tmp_path / "server" / spec.filename).read_bytes()
    assert sorted(p.name for p in dest_dir.iterdir()) == [spec.filename]  # no temporary file left
    assert spec.filename in capsys.readouterr().err  # the tqdm bar, labelled with the file name


def test_checksum_mismatch_names_file_and_hashes_and_leaves_nothing(tmp_path, served, fmt):
    _, files = served
    good = files["test"][0]
    corrupted = tmp_path / "server" / "corrupted.gz"
    corrupted.write_bytes(b"not the file" * 100)
    spec = FileSpec(good.filename, corrupted.as_uri(), good.sha256)
    dest_dir = tmp_path / "dest"
    with pytest.raises(ChecksumError) as info:
        download(spec, dest_dir, progress=False)
    msg = str(info.value)
    assert good.filename in msg and good.sha256 in msg and fmt.sha256(corrupted) in msg
    assert list(dest_dir.iterdir()) == []


def test_connection_dropped_midway_leaves_nothing(tmp_path, served, monkeypatch):
    _, files = served
    spec = files["train"][0]

    class Broken(io.BytesIO):
        headers = {"Content-Length": "3000000"}

        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer")
            return super().read(1000)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Broken(b"x" * 5000))
    dest_dir = tmp_path / "dest"
    with pytest.raises(DownloadError, match="ConnectionResetError"):
        download(spec, dest_dir, progress=False)
    assert list(dest_dir.iterdir()) == []


def test_load_downloads_missing_split_into_cache(served, isolated):
    written, _ = served
    x, y = load("fashion-mnist", "test")
    np.testing.assert_array_equal(y, written["test"][1])
    np.testing.assert_array_equal(x[:, 0], written["test"][0] / np.float32(255))
    cache = isolated.cache("fashion-mnist")
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_load_downloads_into_data_dir(tmp_path, served, isolated):
    written, _ = served
    _, y = load("fashion-mnist", "train", data_dir=tmp_path / "mine")
    np.testing.assert_array_equal(y, written["train"][1])
    assert (tmp_path / "mine" / "train-images-idx3-ubyte.gz").is_file()
    assert not isolated.cache("fashion-mnist").exists()


def test_load_with_corrupt_download_raises_checksum_error(tmp_path, served, override, isolated):
    _, files = served
    bad = tuple(FileSpec(f.filename, f.url, "0" * 64, f.size) for f in files["test"])
    override("fashion-mnist", files={**files, "test": bad})
    with pytest.raises(ChecksumError, match="expected sha256 0{64}, got [0-9a-f]{64}"):
        load("fashion-mnist", "test")
    assert list(isolated.cache("fashion-mnist").iterdir()) == []


def test_offline_message_lists_searched_dirs_files_and_apt_hint(tmp_path, isolated, monkeypatch):
    monkeypatch.setenv("HANDGRAD_DATA", str(tmp_path / "shared"))
    with pytest.raises(DatasetNotFoundError) as info:
        load("fashion-mnist", "train")
    msg = str(info.value)
    for d in (tmp_path / "shared" / "fashion-mnist", isolated.cache("fashion-mnist"), isolated.system("fashion-mnist")):
        assert str(d) in msg
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
              "network disabled in tests", "sudo apt-get install dataset-fashion-mnist"):
        assert f in msg
    assert "\n" not in msg


def test_offline_cifar_and_mnist_have_no_apt_hint(isolated):
    for name, file in (("mnist", "t10k-images-idx3-ubyte.gz"), ("cifar10", "cifar-10-python.tar.gz")):
        with pytest.raises(DatasetNotFoundError) as info:
            load(name, "test")
        assert file in str(info.value) and str(isolated.cache(name)) in str(info.value)
        assert "apt-get" not in str(info.value)


def test_download_false_never_touches_the_network(isolated, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("urlopen called with download=False")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    with pytest.raises(DatasetNotFoundError, match=r"download=False"):
        load("fashion-mnist", "test", download=False)
    assert not isolated.cache("fashion-mnist").exists()
