"""Shared fixtures. PyTorch is imported unconditionally where used: a missing oracle must fail, not skip."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
