import json
import math

import numpy as np
import pytest

import handgrad as hg
from handgrad import regularizers


@pytest.fixture
def x(rng):
    return rng.standard_normal((3, 4))


def test_l2_is_kerass_formula_without_one_half(x):
    assert hg.L2(0.1).penalty(x) == pytest.approx(0.1 * np.sum(x ** 2), rel=1e-12)
    np.testing.assert_allclose(hg.L2(0.1).grad(x), 0.2 * x, rtol=1e-12)


def test_l1(x):
    assert hg.L1(0.1).penalty(x) == pytest.approx(0.1 * np.sum(np.abs(x)), rel=1e-12)
    np.testing.assert_allclose(hg.L1(0.1).grad(x), 0.1 * np.sign(x), rtol=1e-12)
    assert hg.L1(0.1).grad(np.zeros(3)).tolist() == [0, 0, 0]  # sign(0) = 0


def test_l1l2_is_the_sum(x):
    r = hg.L1L2(l1=0.1, l2=0.2)
    assert r.penalty(x) == pytest.approx(hg.L1(0.1).penalty(x) + hg.L2(0.2).penalty(x), rel=1e-12)
    np.testing.assert_allclose(r.grad(x), hg.L1(0.1).grad(x) + hg.L2(0.2).grad(x), rtol=1e-12)


def test_gradients_match_finite_differences(x):
    for r in (hg.L1(0.3), hg.L2(0.3), hg.L1L2(0.3, 0.7)):
        eps = 1e-6
        numerical = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = eps
            numerical[i] = (r.penalty(x + e) - r.penalty(x - e)) / (2 * eps)
        np.testing.assert_allclose(r.grad(x), numerical, rtol=1e-7)


def test_grad_keeps_dtype(x):
    assert hg.L1L2(0.1, 0.1).grad(x.astype(np.float32)).dtype == np.float32


def test_keras_defaults_and_lookup():
    assert regularizers.get("l2") == hg.L2(0.01)
    assert regularizers.get("l1") == hg.L1(0.01)
    assert regularizers.get("l1_l2") == hg.L1L2(0.0, 0.0)
    assert regularizers.get(None) is None
    assert regularizers.get({"class_name": "L2", "config": {"l2": 1e-4}}) == hg.L2(1e-4)
    r = hg.L1L2(0.1, 0.2)
    assert regularizers.get(json.loads(json.dumps(regularizers.serialize(r)))) == r
    assert hg.L2(0.5).get_config() == {"l2": 0.5} and hg.L1L2(0.1, 0.2).get_config() == {"l1": 0.1, "l2": 0.2}


@pytest.mark.parametrize("make,message", [
    (lambda: hg.L2(-0.1), "L2: l2 must be >= 0.0, got -0.1"),
    (lambda: hg.L1(math.inf), "L1: l1 must be finite, got inf"),
    (lambda: hg.L1L2(l1=0.1, l2=math.nan), "L1L2: l2 must be finite, got nan"),
    (lambda: hg.L2("0.1"), "L2: l2 must be a number, got '0.1'"),
    (lambda: regularizers.get("l3"), "unknown regularizer 'l3'"),
])
def test_bad_values_are_rejected_with_the_argument_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_keras_golden_case():
    """Keras's documented example: Dense(5) with a kernel of ones on x = 2*ones((5, 5)), kernel L1(0.01) and
    activity L2(0.01): 0.01 * 25 + 0.01 * sum((10)**2 over 25 outputs) / 5 = 0.25 + 5 = 5.25."""
    model = hg.Sequential([hg.Dense(5, kernel_initializer="zeros", kernel_regularizer=hg.L1(0.01),
                                    activity_regularizer=hg.L2(0.01))], input_shape=(5,))
    model.layers[0].params["W"][...] = 1.0
    terms = model.loss_terms(2 * np.ones((5, 5)), np.zeros(5, dtype=np.int64))
    assert terms.weight + terms.activity == pytest.approx(5.25, rel=1e-6)
    assert (terms.weight, terms.activity) == pytest.approx((0.25, 5.0), rel=1e-6)
