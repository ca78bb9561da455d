"""Dense beyond the layer registry (tests/layer_cases.py): no bias, flat input."""
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer


def test_without_bias_has_no_b(rng):
    layer = hg.Dense(3, use_bias=False)
    layer.forward(rng.standard_normal((2, 4)))
    assert set(layer.params) == {"W"}
    assert check_layer(layer, rng.standard_normal((2, 4)), verbose=False).passed


def test_needs_a_flat_input():
    expected = (r"dense: Dense expects a flat per-sample input \(features,\), got \(3, 4, 4\); "
                r"put a Flatten layer before it")
    with pytest.raises(ValueError, match=expected):
        hg.Dense(4).build((3, 4, 4))

