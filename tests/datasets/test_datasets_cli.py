"""python -m handgrad.datasets fetch NAME: prints where the files are, verifies them, exits 1 without a traceback."""
from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import handgrad.datasets
from handgrad.datasets.__main__ import main
from handgrad.datasets.registry import FileSpec


@pytest.fixture
def published(tmp_path, fmt, override):
    """A synthetic Fashion-MNIST in ``tmp_path/fm``, registered with its own hashes as the official ones."""
    d = tmp_path / "fm"
    fmt.write_idx_dataset(d, n_train=10, n_test=10)
    files = {split: tuple(FileSpec(f"{s}.gz", f"http://example.invalid/{s}.gz", fmt.sha256(d / f"{s}.gz"))
                          for s in fmt.IDX_STEMS[split]) for split in ("train", "test")}
    override("fashion-mnist", files=files)
    return d


def test_fetch_found_and_verified(published, capsys):
    assert main(["fetch", "fashion-mnist", "--data-dir", str(published)]) == 0
    out = capsys.readouterr().out
    assert f"fashion-mnist train: {published}" in out and f"fashion-mnist test: {published}" in out
    assert out.count("sha256 of the official file") == 4


def test_fetch_accepts_recompressed_copy_by_content_hash(published, override, capsys):
    # As for Debian's re-gzipped Fashion-MNIST: the .gz bytes differ from the official ones, the content does not.
    spec = handgrad.datasets.DATASETS["fashion-mnist"]

    def content_sha(path):
        return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()

    files = {split: tuple(FileSpec(f.filename, f.url, "0" * 64, content_sha256=content_sha(published / f.filename))
                          for f in spec.files[split]) for split in ("train", "test")}
    override("fashion-mnist", files=files)
    assert main(["fetch", "fashion-mnist", "--data-dir", str(published)]) == 0
    assert capsys.readouterr().out.count("sha256 of the official decompressed data") == 4


def test_fetch_corrupt_file_exits_1_naming_it(published, capsys):
    target = published / "t10k-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    assert main(["fetch", "fashion-mnist", "--data-dir", str(published)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(target) in err and "checksum mismatch" in err
    assert "Traceback" not in err


def test_fetch_offline_exits_1_with_one_paragraph(tmp_path, capsys):
    assert main(["fetch", "fashion-mnist", "--data-dir", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "nothing") in err and "sudo apt-get install dataset-fashion-mnist" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_runs_as_a_program(tmp_path, isolated):
    src = Path(handgrad.datasets.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(src), "HOME": str(isolated.home)}
    env.pop("HANDGRAD_DATA", None)
    # --no-download: the child process has no network guard; it must not try to reach the internet.
    result = subprocess.run([sys.executable, "-m", "handgrad.datasets", "fetch", "mnist", "--no-download",
                             "--data-dir", str(tmp_path / "empty")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "MNIST (train split) is not on this machine" in result.stderr and "Traceback" not in result.stderr
    bad = subprocess.run([sys.executable, "-m", "handgrad.datasets", "fetch", "svhn"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'svhn'" in bad.stderr


def test_fetch_cifar_extracted_batches_have_no_checksum_to_verify(tmp_path, fmt, capsys):
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    for name, blob in fmt.cifar_python_files(fmt.make_cifar(n_per_batch=2)).items():
        (batches / name).write_bytes(blob)
    assert main(["fetch", "cifar10", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"cifar10 train: {tmp_path}" in out and out.count("no published checksum for this file") == 6


def test_fetch_rejects_an_unofficial_binary_archive(tmp_path, fmt, capsys):
    files = fmt.cifar_binary_files(fmt.make_cifar(n_per_batch=2))
    fmt.write_tar_gz(tmp_path / "cifar-10-binary.tar.gz", {f"cifar-10-batches-bin/{n}": b for n, b in files.items()})
    assert main(["fetch", "cifar10", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cifar-10-binary.tar.gz" in err and "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd" in err
