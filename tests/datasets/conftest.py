"""Shared fixtures: an isolated environment (no network, no real home, cache or system directory) and writers
of small data sets in the official file formats, written here independently of the code under test."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from handgrad.datasets import registry
from tests.formats import (
    IDX_STEMS,
    PY_BATCHES,
    cifar_binary_files,
    cifar_python_files,
    cifar_rows,
    idx_bytes,
    make_cifar,
    py2_pickle,
    sha256,
    write_idx,
    write_idx_dataset,
    write_tar_gz,
)


@pytest.fixture(autouse=True)
def isolated(isolated_data):
    """Every dataset test runs without network, real home, cache or system directory (``isolated_data``)."""
    return isolated_data


@pytest.fixture
def override(monkeypatch):
    """``override(name, **fields)``: replace fields of a registry entry for this test."""
    def apply(name, **fields):
        spec = dataclasses.replace(registry.DATASETS[name], **fields)
        monkeypatch.setitem(registry.DATASETS, name, spec)
        return spec
    return apply


@pytest.fixture
def fmt():
    """The writers of ``tests.formats``, as a fixture."""
    return SimpleNamespace(idx_bytes=idx_bytes, write_idx=write_idx, write_idx_dataset=write_idx_dataset,
                           IDX_STEMS=IDX_STEMS, py2_pickle=py2_pickle, cifar_rows=cifar_rows, make_cifar=make_cifar,
                           cifar_python_files=cifar_python_files, cifar_binary_files=cifar_binary_files,
                           write_tar_gz=write_tar_gz, sha256=sha256, PY_BATCHES=PY_BATCHES)
