"""Shared fixtures. PyTorch is imported unconditionally where used: a missing oracle must fail, not skip."""
import dataclasses
import urllib.error
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest

from handgrad.datasets import registry


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


_real_urlopen = urllib.request.urlopen


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """Point HOME, $HANDGRAD_DATA and the system directories at empty temporary places; allow file:// only."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("HANDGRAD_DATA", raising=False)
    for name, spec in list(registry.DATASETS.items()):
        system = (tmp_path / "system" / name,) if spec.system_dirs else ()
        monkeypatch.setitem(registry.DATASETS, name, dataclasses.replace(spec, system_dirs=system))

    def offline_urlopen(url, *args, **kwargs):
        full = url.full_url if isinstance(url, urllib.request.Request) else url
        if not full.startswith("file:"):
            raise urllib.error.URLError("network disabled in tests")
        return _real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", offline_urlopen)
    return SimpleNamespace(home=home, cache=lambda name: home / ".cache" / "handgrad" / name,
                           system=lambda name: tmp_path / "system" / name)
