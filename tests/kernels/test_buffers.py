"""The numba set's buffer pool (``kernels/numba/buffers.py``): a buffer is leased to the array handed out and
is never handed out again while that array, or anything derived from it, is alive."""
import threading

import numpy as np
import pytest

from handgrad.kernels.numba import buffers
from handgrad.kernels.numba import ops as fast

SHAPE = (buffers.POOL_MIN_BYTES // 8 + 1, 2)  # large enough to be pooled (float32)


@pytest.fixture(autouse=True)
def empty_pool():
    buffers.release_buffers()
    yield
    buffers.release_buffers()


FORMS = {  # every way a caller keeps an array handed out: itself, views, reshapes, slices, a container's entry
    "array": lambda a: a,
    "transpose": lambda a: a.T,
    "strided slice": lambda a: a[::3],
    "reshape": lambda a: a.reshape(-1),
    "view of a view": lambda a: a[1:].T[::2],
    "asarray": np.asarray,
    "memoryview": memoryview,
    "cache dict": lambda a: {"layer": {"cache": (a[5:],)}},
}


def _arrays_in(held):
    return [held["layer"]["cache"][0]] if isinstance(held, dict) else [np.asarray(held)]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_buffer_held_in_any_form_is_never_handed_out_again(form):
    a = buffers.empty(SHAPE, np.float32)
    a[...] = 3.0
    held = FORMS[form](a)
    del a  # the caller keeps only ``held``
    assert buffers.leased_buffers() == 1
    others = [buffers.empty(SHAPE, np.float32) for _ in range(2 * buffers.POOL_PER_SIZE)]  # the pool and beyond
    for other in others:
        for array in _arrays_in(held):
            assert not np.shares_memory(array, other)
        other[...] = -1.0
    for array in _arrays_in(held):
        np.testing.assert_array_equal(array, 3.0)  # nothing wrote into it


def test_a_buffer_is_handed_out_again_once_its_last_view_is_gone():
    a = buffers.empty(SHAPE, np.float32)
    address = a.__array_interface__["data"][0]
    view = a[::2]
    del a
    assert buffers.leased_buffers() == 1
    b = buffers.empty(SHAPE, np.float32)
    assert not np.shares_memory(view, b)
    del view
    assert buffers.leased_buffers() == 1  # b's
    c = buffers.empty(SHAPE, np.float32)
    assert c.__array_interface__["data"][0] == address  # a's buffer, free again, is the first of its size
    assert buffers.leased_buffers() == 2


def test_an_array_released_in_another_thread_frees_its_buffer():
    a = [buffers.empty(SHAPE, np.float32)]
    barrier = threading.Barrier(2)

    def drop():
        barrier.wait()
        a.clear()
        barrier.wait()

    thread = threading.Thread(target=drop)
    thread.start()
    barrier.wait()
    barrier.wait()  # the other thread dropped the only reference
    thread.join()
    assert buffers.leased_buffers() == 0


def test_kernel_outputs_held_by_the_caller_keep_their_values(rng):
    """A dense layer's output kept across later calls (as a cache or a user's variable keeps it) is not
    overwritten by the outputs of those calls."""
    x = rng.standard_normal((4096, 32)).astype(np.float32)
    W = rng.standard_normal((32, 20)).astype(np.float32)
    first = fast.dense_forward(x, W, None)
    assert first.nbytes >= buffers.POOL_MIN_BYTES  # pooled
    expected = first.copy()
    kept = first.T  # only a view survives
    del first
    for _ in range(2 * buffers.POOL_PER_SIZE):
        out = fast.dense_forward(-x, W, None)
        assert not np.shares_memory(out, kept)
    np.testing.assert_array_equal(kept.T, expected)


def test_release_buffers_leaves_leased_arrays_intact():
    a = buffers.empty(SHAPE, np.float32)
    a[...] = 2.0
    buffers.release_buffers()
    b = buffers.empty(SHAPE, np.float32)
    b[...] = 5.0
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, 2.0)
