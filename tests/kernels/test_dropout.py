"""Dropout's mask in both kernel sets: the draws of one sequential ``Generator.random``, bit for bit, whatever
the thread count, and the bit generator left in the state that draw leaves."""
import numpy as np
import pytest

from handgrad.kernels import threads
from handgrad.kernels.numba import dropout as fast
from handgrad.kernels.numpy import dropout as reference


@pytest.fixture(params=[1, 2, 3], ids=["1-thread", "2-threads", "3-threads"])
def team(request):
    before = threads.num_threads()
    threads.set_num_threads(request.param)
    yield request.param
    threads.set_num_threads(before)


def generator(seed: int, values_drawn: int, dtype) -> np.random.PCG64:
    """A PCG64 after ``values_drawn`` draws of ``dtype``: an odd count of float32 leaves half a draw buffered."""
    bits = np.random.PCG64(seed)
    np.random.Generator(bits).random(values_drawn, dtype=dtype)
    return bits


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the reference's inf * 0
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("drawn", [0, 1, 2, 7])
@pytest.mark.parametrize("shape", [(3, 5), (64, 3136), (7, 13, 1001)])
def test_fast_mask_is_the_sequential_draw_bit_for_bit(shape, drawn, dtype, team, monkeypatch):
    monkeypatch.setattr(fast, "MIN_TASK_ELEMENTS", 1000)  # several parts even for the middle shape
    rng = np.random.default_rng(drawn)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:5] = [np.nan, -0.0, 0.0, np.inf, -np.inf]
    ours, theirs = generator(3, drawn, dtype), generator(3, drawn, dtype)
    y, scale = fast.dropout_forward(x, 0.3, ours)
    y_ref, scale_ref = reference.dropout_forward(x, 0.3, theirs)
    assert y.tobytes() == y_ref.tobytes() and scale.tobytes() == scale_ref.tobytes()
    assert y.shape == scale.shape == shape and y.dtype == scale.dtype == dtype
    assert ours.state == theirs.state
    nxt = np.random.Generator(ours).random(9, dtype=dtype)  # and the next draws follow on
    assert nxt.tobytes() == np.random.Generator(theirs).random(9, dtype=dtype).tobytes()


def test_reference_mask_keeps_each_value_with_probability_one_minus_rate():
    x = np.ones((200, 500), np.float32)
    y, scale = reference.dropout_forward(x, 0.25, np.random.PCG64(0))
    kept = scale != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_array_equal(scale[kept], np.float32(1 / 0.75))
    np.testing.assert_array_equal(y, x * scale)


def test_fast_parts_start_at_whole_draws():
    for buffered in (0, 1):
        starts = fast._starts(10_001, 3, buffered, 2)
        assert starts[0] == 0 and starts == sorted(set(starts)) and len(starts) == 3
        assert all((p - buffered) % 2 == 0 for p in starts[1:])


def test_fast_takes_the_reference_for_a_strided_input(team):
    x = np.random.default_rng(0).standard_normal((64, 4000)).astype(np.float32).T  # not C-contiguous
    y, scale = fast.dropout_forward(x, 0.5, np.random.PCG64(1))
    y_ref, scale_ref = reference.dropout_forward(x, 0.5, np.random.PCG64(1))
    assert y.tobytes() == y_ref.tobytes() and scale.tobytes() == scale_ref.tobytes()
