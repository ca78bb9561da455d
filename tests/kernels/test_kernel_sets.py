"""Both kernel sets are complete: every name of ``handgrad.kernels.INTERFACE``, with the same arguments."""
import inspect

import pytest

from handgrad.kernels import INTERFACE, backend
from handgrad.kernels import numba as kernels_numba
from handgrad.kernels import numpy as kernels_numpy


def arguments(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", INTERFACE)
def test_both_sets_provide_the_interface_with_the_same_arguments(name):
    ours, theirs = getattr(kernels_numpy, name), getattr(kernels_numba, name)
    if callable(ours):
        assert arguments(ours) == arguments(theirs)
    assert sorted(kernels_numpy.__all__) == sorted(kernels_numba.__all__) == sorted(INTERFACE)


def test_active_is_always_a_set():
    for name in backend.CHOICES:
        with backend.using_kernels(name):
            assert backend.active() is {"numpy": kernels_numpy, "numba": kernels_numba}[name]
            assert backend.active().NAME == backend.active_kernels() == name
