"""prefetched(): the iterator's items in its order, its errors where they happen, and a thread that stops."""
import threading
import time

import numpy as np
import pytest

from handgrad.datasets import RandomCropFlip, minibatches
from handgrad.datasets.prefetch import prefetched


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "handgrad-prefetch"]


def test_the_same_augmented_batches_in_the_same_order(rng):
    x = rng.standard_normal((70, 1, 8, 8)).astype(np.float32)
    y = np.arange(70)

    def batches():
        return minibatches(x, y, 16, rng=np.random.default_rng([3, 1]), augment=RandomCropFlip(padding=2))

    expected = list(batches())
    got = list(prefetched(batches(), depth=2))
    assert len(got) == len(expected) == 5
    for (xa, ya), (xb, yb) in zip(got, expected):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not prefetch_threads()


def test_an_error_of_the_iterator_is_raised_at_its_item():
    def items():
        yield 1
        yield 2
        raise ValueError("bad batch 3")

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]
    assert not prefetch_threads()


def test_closing_early_stops_the_thread():
    made = []

    def endless():
        while True:
            made.append(len(made))
            yield made[-1]

    gen = prefetched(endless(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert not prefetch_threads()
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= 3 + 2 + 1  # what was consumed, the queue, the item being made


def test_an_error_in_the_loop_body_stops_the_thread():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    gen = prefetched(endless())
    with pytest.raises(RuntimeError):
        for item in gen:
            if item == 2:
                raise RuntimeError("diverged")
    gen.close()  # what the trainer's contextlib.closing does
    assert not prefetch_threads()
