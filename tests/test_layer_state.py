"""Layer state (not trained): ``Sequential.state_dict()``/``load_state_dict()`` and ``astype``."""
import numpy as np
import pytest

import handgrad as hg
from tests.layer_cases import INFOS


@pytest.mark.parametrize("info", INFOS, ids=lambda info: info.name)
def test_every_layer_declares_its_state_and_a_copy_of_it_resumes_bit_for_bit(info, rng):
    """The registry's ``state`` names are the layer's state; parameters and state copied into another layer of
    the same case give the same training passes, bit for bit, and the same state after them; ``astype`` keeps
    non-float state (generator words) and converts the rest."""
    case = info.cases[0]
    a, x = case.build(rng)
    assert sorted(a.state) == sorted(info.state)
    a.forward(x, training=True)  # moves the statistics and the generator
    b, _ = case.build(np.random.default_rng(99))
    for k in a.params:
        b.params[k][...] = a.params[k]
    for k in a.state:
        b.state[k][...] = a.state[k]  # in place: the live arrays, as Sequential.load_state_dict does
    for _ in range(2):
        np.testing.assert_array_equal(b.forward(x, training=True), a.forward(x, training=True))
    for k in a.state:
        assert b.state[k].tobytes() == a.state[k].tobytes(), k
    before = {k: v.copy() for k, v in a.state.items()}
    a.astype(np.float32)
    for k, v in a.state.items():
        if before[k].dtype.kind == "f":
            assert v.dtype == np.float32, k
            np.testing.assert_array_equal(v, before[k].astype(np.float32))
        else:
            assert v.tobytes() == before[k].tobytes(), k


def model(seed=0):
    layers = [hg.Conv2D(3, 3), hg.BatchNorm2D(), hg.ELU(), hg.Flatten(), hg.Dropout(0.5), hg.Dense(8),
              hg.BatchNorm1D(), hg.Dense(2)]
    return hg.Sequential(layers, input_shape=(1, 5, 5), seed=seed)


def test_state_dict_holds_parameters_and_state_and_restores_them_bit_for_bit(rng):
    x = rng.standard_normal((4, 1, 5, 5))
    a = model(seed=1)
    a.forward(x, training=True)  # moves the statistics and the dropout generator
    saved = a.state_dict()
    assert {"batch_norm2d.moving_mean", "batch_norm2d.moving_variance", "batch_norm1d.moving_mean",
            "batch_norm1d.moving_variance", "dropout.generator", "batch_norm2d.gamma", "conv2d.W"} <= set(saved)
    assert set(saved) == set(a.parameters()) | set(a.states())
    assert not np.array_equal(saved["batch_norm2d.moving_mean"], np.zeros(3))
    b = model(seed=2)  # other weights, other dropout seed
    b.load_state_dict(saved)
    for key, value in saved.items():
        assert b.state_dict()[key].tobytes() == value.tobytes(), key
    np.testing.assert_array_equal(b.forward(x, training=True), a.forward(x, training=True))  # same masks
    for key, value in a.state_dict().items():
        assert b.state_dict()[key].tobytes() == value.tobytes(), key
    saved["batch_norm1d.moving_mean"][:] = 7.0  # copies, not the live arrays
    assert not np.any(a.states()["batch_norm1d.moving_mean"] == 7.0)


def test_load_state_dict_errors_name_the_key(rng):
    m = model()
    state = m.state_dict()
    with pytest.raises(KeyError, match=r"missing \['dropout.generator'\], unexpected \['dropout.rng'\]"):
        m.load_state_dict({**{k: v for k, v in state.items() if k != "dropout.generator"},
                           "dropout.rng": state["dropout.generator"]})
    with pytest.raises(hg.layers.base.ShapeError, match=r"batch_norm1d.moving_mean expects shape \(8,\), got \(3,\)"):
        m.load_state_dict({**state, "batch_norm1d.moving_mean": np.zeros(3)})
    with pytest.raises(TypeError, match="dropout.generator expects dtype uint64, got float64"):
        m.load_state_dict({**state, "dropout.generator": state["dropout.generator"].astype(np.float64)})


def test_astype_converts_floating_state_and_keeps_the_generator_words(rng):
    m = model()
    m.forward(rng.standard_normal((4, 1, 5, 5)), training=True)
    before = m.state_dict()
    m.astype(np.float64)
    states = m.states()
    assert states["batch_norm2d.moving_mean"].dtype == np.float64
    assert states["dropout.generator"].dtype == np.uint64
    np.testing.assert_array_equal(states["batch_norm2d.moving_variance"], before["batch_norm2d.moving_variance"])
    np.testing.assert_array_equal(states["dropout.generator"], before["dropout.generator"])


def test_dropout_generator_state_advances_with_each_training_pass_only(rng):
    layer = hg.Dropout(0.5, seed=3)
    x = rng.standard_normal((4, 6))
    start = layer.state["generator"].copy()
    layer.forward(x, training=False)
    np.testing.assert_array_equal(layer.state["generator"], start)
    first = layer.forward(x, training=True)
    assert not np.array_equal(layer.state["generator"], start)
    expected = np.random.default_rng(3).random(x.shape) >= 0.5  # the documented generator: PCG64(seed)
    np.testing.assert_array_equal(first != 0, expected)


class ClashingLayer(hg.layers.base.Layer):
    def _build(self, input_shape, rng):
        self.params = {"w": np.zeros(2)}
        self.state = {"w": np.zeros(2)}
        return input_shape


def test_params_and_state_of_a_layer_need_different_names():
    with pytest.raises(ValueError, match=r"clashing_layer: params and state must have different names, both have "
                                         r"\['w'\]"):
        ClashingLayer().build((2,))
