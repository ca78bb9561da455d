"""Pooling beyond the layer registry (tests/layer_cases.py): ties, a pool larger than the input."""
import numpy as np
import pytest

import handgrad as hg


def test_max_gradient_goes_to_the_first_maximum_of_a_tie():
    pool = hg.MaxPool2D(2)
    pool.forward(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]))
    np.testing.assert_array_equal(pool.backward(np.array([[[[5.0]]]])), [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_pool_larger_than_input():
    with pytest.raises(ValueError, match=r"max_pool2d: pool_size \(3, 3\) is larger than the input"):
        hg.MaxPool2D(3).build((1, 2, 2))
