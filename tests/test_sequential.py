import copy

import numpy as np
import pytest

import handgrad as hg
from handgrad.errors import ArgumentError, ArgumentTypeError, KeyMismatchError, NonFiniteError, ShapeError
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
    assert [layer.name for layer in model.layers] == ["dense_1", "dense"]
    model = hg.Sequential([hg.Dense(3), hg.Dense(3), hg.Dense(2, name="dense_1")], input_shape=(4,))
    assert [layer.name for layer in model.layers] == ["dense", "dense_2", "dense_1"]
    with pytest.raises(ValueError, match="layer names must be unique"):
        hg.Sequential([hg.Dense(3, name="a"), hg.Dense(2, name="a")], input_shape=(4,))


def test_same_seed_same_model_bit_for_bit():
    a, b, c = reference_cnn(seed=7), reference_cnn(seed=7), reference_cnn(seed=8)
    for key, value in a.parameters().items():
        assert value.tobytes() == b.parameters()[key].tobytes()
    assert not np.array_equal(a.parameters()["conv2d.W"], c.parameters()["conv2d.W"])


def test_shape_errors_at_build_name_the_layer():
    expected = r"dense: Dense expects a flat per-sample input \(features,\), got \(3, 6, 6\)"
    with pytest.raises(ValueError, match=expected):
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


# ---------------------------------------------------------------- bad input (issue 9, audit finding 6)
def params_snapshot(model):
    return {k: v.copy() for k, v in model.parameters().items()}


def assert_params_equal(model, snapshot):
    assert list(model.parameters()) == list(snapshot)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, snapshot[key], err_msg=key)


@pytest.mark.parametrize("corrupt, error, message", [
    (lambda w: w.update({"dense.b": np.zeros(5)}), ShapeError, r"dense.b expects shape \(4,\), got \(5,\)"),
    (lambda w: w["dense.b"].__setitem__(2, np.nan), NonFiniteError, r"dense.b holds 1 non-finite value"),
    (lambda w: w.update({"dense.b": np.full(4, 1e39)}), NonFiniteError, r"dense.b holds 4 non-finite .* float32"),
    (lambda w: w.update({"dense.b": np.zeros(4, complex)}), ArgumentTypeError, "dense.b must hold real numbers"),
    (lambda w: w.update({"dense.b": [[1.0], [2.0, 3.0]]}), ShapeError, "dense.b must be an array"),
    (lambda w: w.update({"extra": np.zeros(1)}), KeyMismatchError, r"missing \[\], unexpected \['extra'\]"),
    (lambda w: w.pop("dense.b"), KeyMismatchError, r"missing \['dense.b'\], unexpected \[\]"),
])
def test_set_weights_refused_on_one_key_changes_no_parameter(corrupt, error, message):
    source, target = small_model(seed=1), small_model(seed=2)
    before = params_snapshot(target)
    weights = source.get_weights()  # conv2d.W, conv2d.b, dense.W come before the corrupted dense.b
    corrupt(weights)
    with pytest.raises(error, match=message):
        target.set_weights(weights)
    assert_params_equal(target, before)
    assert not np.array_equal(before["conv2d.W"], source.parameters()["conv2d.W"])  # a write would have shown


def test_set_weights_converts_dtype_and_accepts_its_own_parameters():
    source, target = small_model(seed=1, dtype=np.float64), small_model(seed=2)
    target.set_weights(source.parameters())
    for key, value in source.parameters().items():
        assert target.parameters()[key].dtype == np.float32
        np.testing.assert_array_equal(target.parameters()[key], value.astype(np.float32))
    before = params_snapshot(target)
    target.set_weights(target.parameters())  # the live arrays themselves
    assert_params_equal(target, before)


@pytest.mark.parametrize("dtype, shown", [(np.int32, "int32"), (int, "int64"), (np.float16, "float16; float16 is too"),
                                          (np.complex64, "complex64"), ("float", "float64"), (None, "None"),
                                          ("no-such-dtype", "'no-such-dtype'")])
def test_only_float32_and_float64_models(dtype, shown):
    if shown == "float64":  # "float" is a valid spelling of float64: accepted
        assert small_model(dtype=dtype).parameters()["conv2d.W"].dtype == np.float64
        return
    with pytest.raises(TypeError, match=rf"Sequential: dtype must be np.float32 or np.float64, got {shown}"):
        small_model(dtype=dtype)
    model = small_model()
    before = params_snapshot(model)
    with pytest.raises(ArgumentTypeError, match=rf"Sequential.astype: dtype must be .*, got {shown}"):
        model.astype(dtype)
    assert model.dtype == np.float32
    assert_params_equal(model, before)
    assert all(v.dtype == np.float32 for v in model.parameters().values())


def test_layers_refuse_non_float_dtypes():
    with pytest.raises(ArgumentTypeError, match="dense: dtype must be np.float32 or np.float64, got int32"):
        hg.Dense(3).build((4,), dtype=np.int32)
    layer = hg.Conv2D(2, 3, activation="elu")
    layer.build((1, 5, 5))
    with pytest.raises(ArgumentTypeError, match="conv2d: dtype must be np.float32 or np.float64, got int64"):
        layer.astype(int)


@pytest.mark.parametrize("batch_size, error", [(0, ArgumentError), (-1, ArgumentError), (2.5, ArgumentTypeError),
                                               (True, ArgumentTypeError), ("8", ArgumentTypeError)])
def test_predict_batch_size_must_be_a_positive_int(rng, batch_size, error):
    with pytest.raises(error, match="Sequential.predict: batch_size must be"):
        small_model().predict(rng.standard_normal((5, 2, 6, 6)), batch_size=batch_size)


def test_empty_batch_is_refused_except_by_predict():
    model, empty = small_model(), np.zeros((0, 2, 6, 6))
    for call in (lambda: model.forward(empty), lambda: model.loss(empty, np.zeros(0, int)),
                 lambda: model.loss_terms(empty, np.zeros(0, int))):
        with pytest.raises(ShapeError, match=r"Sequential: input is an empty batch of shape \(0, 2, 6, 6\)"):
            call()
    p = model.predict(empty)
    assert p.shape == (0, 4) and p.dtype == np.float32
    with pytest.raises(ShapeError, match=r"dense: input is an empty batch of shape \(0, 4\)"):
        hg.Dense(3).forward(np.zeros((0, 4)))


def test_non_finite_inputs_are_counted_and_refused(rng):
    model = small_model()
    x = rng.standard_normal((3, 2, 6, 6))
    x[0, 0, 0, :3] = np.nan
    x[2, 1, 5, 5] = -np.inf
    for call in (lambda: model.forward(x), lambda: model.loss(x, np.array([0, 1, 2])), lambda: model.predict(x)):
        with pytest.raises(NonFiniteError, match=r"Sequential: input holds 4 non-finite value\(s\) .* among 216$"):
            call()
    big = rng.standard_normal((3, 2, 6, 6))
    big[1, 1, 1, 1] = 1e39  # finite in float64, inf in the model's float32
    with pytest.raises(NonFiniteError, match=r"holds 1 non-finite .* \(1 of them beyond the range of float32\)"):
        model.forward(big)
    with pytest.raises(NonFiniteError, match=r"conv2d: input holds 3 non-finite value"):
        hg.Conv2D(2, 3).forward(x[:1])


@pytest.mark.parametrize("labels, error, message", [
    (np.array([0, 1, 4]), ArgumentError, r"labels: expected values in \[0, 4\), got 4 \(1 of 3 outside\)"),
    (np.array([-1, 9, 2]), ArgumentError, r"got -1 \(2 of 3 outside\)"),
    (np.array([[0], [1], [2]]), ShapeError, r"labels: expected shape \(3,\) to match the batch, got \(3, 1\)"),
    ([0, [1, 2], 3], ShapeError, r"labels: expected an array of shape \(3,\)"),
    (np.array([True, False, True]), ArgumentTypeError, "labels: expected integer class indices, got dtype bool"),
    (np.array([0.0, 1.0, 2.0]), ArgumentTypeError, "got dtype float64"),
    (np.array(["0", "1", "2"]), ArgumentTypeError, "got dtype <U1"),
])
def test_bad_labels_are_refused_before_the_forward_pass(rng, labels, error, message):
    model = hg.Sequential([hg.Flatten(), hg.Dropout(0.5), hg.Dense(4)], input_shape=(2, 6, 6))
    dropout = model.layers[1]
    state = dropout.state["generator"].copy()
    for call in (model.loss, model.loss_terms, model.forward_backward):
        with pytest.raises(error, match=message):
            call(rng.standard_normal((3, 2, 6, 6)), labels, training=True)
    # no mask was drawn: the refused calls changed nothing
    np.testing.assert_array_equal(dropout.state["generator"], state)


def test_non_finite_results_are_refused_by_loss_and_predict_and_name_the_cause(rng):
    model, x, y = small_model(), rng.standard_normal((2, 2, 6, 6)), np.array([0, 3])
    model.parameters()["dense.W"][0, 0] = np.nan  # diverged weights
    for call, method in ((lambda: model.loss(x, y), "loss"), (lambda: model.loss_terms(x, y), "loss_terms"),
                         (lambda: model.predict(x), "predict")):
        with pytest.raises(NonFiniteError, match=rf"Sequential.{method}: .*the parameters \['dense.W'\] hold non-fin"):
            call()
    terms, logits = model.forward_backward(x, y)  # the training loop's call: its NaN guard reports
    assert np.isnan(terms.data) and np.isnan(logits).any()
    huge = np.full((2, 2, 6, 6), 3e38, np.float32)  # finite, but the products of the backward pass overflow
    with pytest.raises(NonFiniteError, match=r"Sequential.loss: .* not finite; inputs and parameters are finite: "
                                             r"the computation overflowed float32"), np.errstate(all="ignore"):
        small_model().loss(huge, y)


def test_a_layer_belongs_to_one_model(rng):
    layers = [hg.Conv2D(3, 3, activation="elu"), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(4)]
    first = hg.Sequential(layers, input_shape=(2, 6, 6), seed=1)
    x = rng.standard_normal((2, 2, 6, 6))
    before, logits = params_snapshot(first), first.forward(x)
    with pytest.raises(ArgumentError, match=r"Sequential: layer conv2d \(layers\[0\]\) already belongs to another "
                                            "model; create a new layer"):
        hg.Sequential(layers, input_shape=(3, 8, 8), seed=2)
    assert_params_equal(first, before)
    np.testing.assert_array_equal(first.forward(x), logits)  # the first model still works, unchanged
    with pytest.raises(ArgumentError, match="layer dense"):
        hg.Sequential([hg.Flatten(), layers[3]], input_shape=(2, 6, 6))


def test_built_in_activations_and_repeated_instances_are_refused():
    elu = hg.ELU()
    hg.Sequential([hg.Dense(3, activation=elu), hg.Dense(2)], input_shape=(4,))
    with pytest.raises(ArgumentError, match=r"activation elu of layer dense \(layers\[0\]\) already belongs to anoth"):
        hg.Sequential([hg.Dense(3, activation=elu), hg.Dense(2)], input_shape=(4,))
    relu = hg.ReLU()
    with pytest.raises(ArgumentError, match=r"layer relu \(layers\[3\]\) is the same instance as layer relu "
                                            r"\(layers\[1\]\)"):
        hg.Sequential([hg.Dense(3), relu, hg.Dense(3), relu, hg.Dense(2)], input_shape=(4,))
    tanh = hg.Tanh()
    with pytest.raises(ArgumentError, match=r"layer tanh \(layers\[1\]\) is the same instance as activation tanh"):
        hg.Sequential([hg.Dense(3, activation=tanh), tanh, hg.Dense(2)], input_shape=(4,))


def test_a_failed_construction_claims_no_layer():
    conv = hg.Conv2D(2, 3)
    with pytest.raises(ShapeError):
        hg.Sequential([conv, hg.Dense(4)], input_shape=(1, 5, 5))  # forgot Flatten
    model = hg.Sequential([conv, hg.Flatten(), hg.Dense(4)], input_shape=(1, 5, 5))
    assert model.layers[0] is conv and conv.params["W"].shape == (2, 1, 3, 3)


def test_deepcopy_keeps_working_and_its_layers_belong_to_the_copy(rng):
    a = small_model()
    b = copy.deepcopy(a)
    x = rng.standard_normal((2, 2, 6, 6))
    np.testing.assert_array_equal(b.forward(x), a.forward(x))
    terms, _ = b.loss(x, np.array([0, 1]))
    assert terms.total == a.loss(x, np.array([0, 1]))[0].total
    with pytest.raises(ArgumentError, match="already belongs to another model"):
        hg.Sequential(b.layers, input_shape=(2, 6, 6))


def test_deepcopy_after_a_forward_pass_copies_the_fusion_plan_too(rng):
    model = hg.Sequential([hg.Conv2D(2, 3), hg.ELU(), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(3)],
                          input_shape=(1, 6, 6), seed=0)
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    y = model.forward(x)
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.forward(x), y)
    assert all(a is not b for a, b in zip(twin.layers, model.layers))
