import copy

import numpy as np
import pytest

import handgrad as hg
from handgrad.models import reference_cnn


def small_model(**kwargs):
    return hg.Sequential([hg.Conv2D(3, 3, activation="elu"), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(4)],
                         input_shape=(2, 6, 6), **kwargs)


def test_layer_names_are_unique_and_keras_like():
    names = [layer.name for layer in reference_cnn().layers]
    assert names == ["conv2d", "elu", "max_pool2d", "conv2d_1", "elu_1", "max_pool2d_1", "flatten", "dense",
                     "elu_2", "dense_1"]


def test_explicit_names_are_kept_and_must_be_unique():
    model = hg.Sequential([hg.Dense(3, name="dense_1"), hg.Dense(2)], input_shape=(4,))
    assert [l.name for l in model.layers] == ["dense_1", "dense"]
    model = hg.Sequential([hg.Dense(3), hg.Dense(3), hg.Dense(2, name="dense_1")], input_shape=(4,))
    assert [l.name for l in model.layers] == ["dense", "dense_2", "dense_1"]
    with pytest.raises(ValueError, match="layer names must be unique"):
        hg.Sequential([hg.Dense(3, name="a"), hg.Dense(2, name="a")], input_shape=(4,))


def test_same_seed_same_model_bit_for_bit():
    a, b, c = reference_cnn(seed=7), reference_cnn(seed=7), reference_cnn(seed=8)
    for key, value in a.parameters().items():
        assert value.tobytes() == b.parameters()[key].tobytes()
    assert not np.array_equal(a.parameters()["conv2d.W"], c.parameters()["conv2d.W"])


def test_shape_errors_at_build_name_the_layer():
    with pytest.raises(ValueError, match=r"dense: Dense expects a flat per-sample input \(features,\), got \(3, 6, 6\)"):
        hg.Sequential([hg.Conv2D(3, 3), hg.Dense(4)], input_shape=(2, 6, 6))
    with pytest.raises(ValueError, match=r"conv2d_1: Conv2D expects per-sample input \(C, H, W\), got \(4,\)"):
        hg.Sequential([hg.Conv2D(2, 3), hg.Flatten(), hg.Dense(4), hg.Conv2D(2, 3)], input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match=r"the last layer \(conv2d\) must output class scores"):
        hg.Sequential([hg.Conv2D(2, 3)], input_shape=(1, 5, 5))


def test_input_shape_error_names_expected_and_actual(rng):
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, 6, 6\), got \(6, 6\)"):
        small_model().forward(rng.standard_normal((6, 6)))
    layer = hg.Dense(3)
    layer.build((4,))
    with pytest.raises(ValueError, match=r"dense: expected input of shape \(N, 4\), got \(2, 5\)"):
        layer.forward(np.zeros((2, 5)))


def test_bad_labels(rng):
    model, x = small_model(), rng.standard_normal((3, 2, 6, 6))
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 4\), got 7"):
        model.loss(x, np.array([0, 1, 7]))
    with pytest.raises(ValueError, match=r"labels: expected shape \(3,\)"):
        model.loss(x, np.array([0, 1]))
    with pytest.raises(TypeError, match="labels: expected integer class indices"):
        model.loss(x, np.array([0.0, 1.0, 2.0]))


def test_loss_returns_terms_and_the_layers_own_gradient_arrays(rng):
    model = reference_cnn(weight_l2=1e-3, activity_l2=1e-3, input_shape=(1, 12, 12))
    terms, grads = model.loss(rng.standard_normal((4, 1, 12, 12)), np.array([0, 1, 2, 3]))
    assert terms.total == pytest.approx(terms.data + terms.weight + terms.activity)
    assert terms.weight > 0 and terms.activity > 0 and terms.data > 0
    assert set(grads) == set(model.parameters())
    for layer in model.layers:
        for p, g in layer.grads.items():
            assert grads[f"{layer.name}.{p}"] is g
            assert g.shape == layer.params[p].shape and g.dtype == np.float32


def test_loss_terms_selection_sums_to_total(rng):
    model = reference_cnn(weight_l2=1e-2, activity_l2=1e-2, input_shape=(1, 8, 8), dtype=np.float64)
    x, y = rng.standard_normal((3, 1, 8, 8)), np.array([1, 2, 3])
    parts = [{k: v.copy() for k, v in model.loss(x, y, terms=(t,))[1].items()} for t in ("data", "weight", "activity")]
    _, total = model.loss(x, y)
    for key in total:
        np.testing.assert_allclose(total[key], sum(p[key] for p in parts), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="terms must be a subset"):
        model.loss(x, y, terms=("data", "bias"))


def test_astype_float64_switches_everything(rng):
    model = small_model().astype(np.float64)
    assert all(v.dtype == np.float64 for v in model.parameters().values())
    assert model.forward(rng.standard_normal((2, 2, 6, 6)).astype(np.float32)).dtype == np.float64


def test_predict_gives_probabilities_in_batches(rng):
    model = small_model()
    x = rng.standard_normal((10, 2, 6, 6))
    p = model.predict(x, batch_size=3)
    assert p.shape == (10, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    logits = model.forward(x).astype(np.float64)
    np.testing.assert_allclose(p, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5)


def test_set_weights_round_trip_and_errors():
    a, b = small_model(seed=1), small_model(seed=2)
    b.set_weights(a.get_weights())
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], value)
    with pytest.raises(KeyError, match="missing"):
        b.set_weights({})


def test_summary_lists_layers_shapes_params_and_regularizers():
    text = reference_cnn(weight_l2=1e-4, activity_l2=1e-5, activity_on="post").summary()
    assert "conv2d (Conv2D)" in text and "(N, 32, 28, 28)" in text and "832" in text
    assert "elu (ELU)" in text and "activity:L2(l2=1e-05)" in text and "W:L2(l2=0.0001)" in text
    assert f"Total params: {reference_cnn().param_count():,}" in text
    assert reference_cnn().param_count() == 832 + 51264 + 3136 * 256 + 256 + 2570


def test_deepcopy_is_independent():
    a = small_model()
    b = copy.deepcopy(a)
    b.parameters()["conv2d.W"][...] = 0
    assert np.abs(a.parameters()["conv2d.W"]).sum() > 0
