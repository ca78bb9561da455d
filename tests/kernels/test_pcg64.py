"""``kernels.numba.pcg64`` against NumPy's PCG64: its draws, ``Generator.random``'s floats and the states left."""
import numpy as np
import pytest

from handgrad.kernels.numba import pcg64


def after(seed: int, values_drawn: int, dtype=np.float32) -> np.random.PCG64:
    """A PCG64 after ``values_drawn`` values of ``dtype`` (an odd count of float32 keeps a half draw)."""
    bits = np.random.PCG64(seed)
    np.random.Generator(bits).random(values_drawn, dtype=dtype)
    return bits


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5])
def test_draws_are_random_raw(seed):
    bits = np.random.PCG64(seed)
    words = pcg64.state_words(bits.state)
    out = np.empty(1001, np.uint64)
    pcg64.draws(words, out)
    np.testing.assert_array_equal(out, bits.random_raw(1001))
    assert pcg64.state_dict(words, 0, bits.state["uinteger"]) == bits.state


@pytest.mark.parametrize("drawn", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000, 1001])
def test_float32_values_and_state_are_generator_randoms(drawn, n):
    bits = after(11, drawn)
    state = bits.state
    words = pcg64.state_words(state)
    out = np.empty(n, np.float32)
    kept = pcg64.uniform_f32(words, state["has_uint32"], state["uinteger"], out)
    expected = np.random.Generator(bits).random(n, dtype=np.float32)
    assert out.tobytes() == expected.tobytes()
    assert pcg64.state_dict(words, *kept) == bits.state


@pytest.mark.parametrize("drawn", [0, 1])
def test_float64_values_are_generator_randoms_and_leave_the_kept_half(drawn):
    bits = after(12, drawn)  # float64 values take whole draws: a kept float32 half stays kept
    state = bits.state
    words = pcg64.state_words(state)
    out = np.empty(777)
    pcg64.uniform_f64(words, out)
    assert out.tobytes() == np.random.Generator(bits).random(777).tobytes()
    assert pcg64.state_dict(words, state["has_uint32"], state["uinteger"]) == bits.state


@pytest.mark.parametrize("delta", [0, 1, 2, 3, 1000, 123_456_789, 2**63 - 1])
def test_advance_is_numpys(delta):
    bits = np.random.PCG64(13)
    words = pcg64.state_words(bits.state)
    pcg64.advance(words, delta)
    bits.advance(delta)
    assert pcg64.state_words(bits.state).tolist() == words.tolist()
