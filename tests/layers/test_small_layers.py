"""Flatten, Dropout and ActivityRegularization."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer


def test_flatten_uses_nchw_order_and_inverts(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = hg.Flatten()
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    np.testing.assert_array_equal(layer.backward(y), x)
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(hg.Flatten().forward(channels_last), x.reshape(2, 60))


def test_dropout_is_identity_at_inference(rng):
    x = rng.standard_normal((4, 10))
    assert hg.Dropout(0.5).forward(x, training=False) is x


def test_dropout_scales_kept_units_and_routes_gradient_through_the_mask(rng):
    layer = hg.Dropout(0.25, seed=3)
    x = rng.standard_normal((200, 50)) + 5.0  # never 0, so zeros in y are dropped units
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01  # 10,000 draws: standard deviation 0.0043
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dy), np.where(kept, dy / 0.75, 0), rtol=1e-6)


def test_dropout_masks_are_numpys_pcg64_draws_and_each_pass_keeps_its_own_output(rng):
    """The mask is ``u >= rate`` for ``u`` the generator's next uniforms, pass after pass (the layer reuses its
    mask arrays between passes: an output already handed out never changes, ``backward`` follows the last
    pass, and a new batch size gets arrays of its own)."""
    outputs = []
    for dtype in (np.float32, np.float64):  # a layer per dtype: it is built for its first input's
        layer, oracle = hg.Dropout(0.5, seed=7), np.random.Generator(np.random.PCG64(7))
        for shape in ((6, 40), (6, 40), (3, 40)):
            x = (rng.standard_normal(shape) + 5.0).astype(dtype)
            expected = np.where(oracle.random(shape, dtype=dtype) >= 0.5, x * dtype(2.0), 0)
            y = layer.forward(x, training=True)
            np.testing.assert_array_equal(y, expected)
            dy = rng.standard_normal(shape).astype(dtype)
            np.testing.assert_array_equal(layer.backward(dy), np.where(y != 0, dy * dtype(2.0), 0))
            outputs.append((y, y.copy()))
    for y, copy in outputs:
        np.testing.assert_array_equal(y, copy)


def test_dropout_masks_are_reproducible_from_the_model_seed(rng):
    x = rng.standard_normal((8, 6))

    def masks(seed):
        model = hg.Sequential([hg.Dense(6), hg.Dropout(0.5), hg.Dense(2)], input_shape=(6,), seed=seed)
        return [model.forward(x, training=True) for _ in range(2)]

    a, b, c = masks(0), masks(0), masks(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("rate", [-0.1, 1.0, float("nan")])
def test_dropout_rate_validated(rate):
    with pytest.raises(ValueError, match="Dropout: rate must be"):
        hg.Dropout(rate)


def test_activity_regularization_layer_is_identity_with_penalty(rng):
    layer = hg.ActivityRegularization(l1=0.01, l2=0.02)
    x = rng.standard_normal((4, 3, 2, 2))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x)
    assert layer.activity_penalty(y) == pytest.approx((0.01 * np.abs(x).sum() + 0.02 * (x ** 2).sum()) / 4)
    report = check_layer(layer, x, verbose=False)
    assert report.passed, str(report)
