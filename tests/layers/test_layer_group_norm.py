"""LayerNorm and GroupNorm beyond the layer registry (tests/layer_cases.py: finite differences in float64 and
PyTorch's ``F.layer_norm`` / ``F.group_norm`` with identical weights): state-free, float32, usable in a
``Sequential`` and a ``--model`` file."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_model
from handgrad.model_source import build
from tests.layer_cases import case, cases

NAMES = [c.id for c in cases(hg.LayerNorm) + cases(hg.GroupNorm)]  # the registry's cases


def built(name, rng):
    """The registry's float64 layer with random gamma and beta (a gamma of ones hides a missing factor) and a
    batch whose mean and scale are far from 0 and 1."""
    return case(name).build(rng)


@pytest.mark.parametrize("name", NAMES)
def test_state_free_same_in_both_modes(name, rng):
    layer, x = built(name, rng)
    assert layer.state == {}
    np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x, training=False))


def test_float32_agrees_with_float64(rng):
    layer64, x = built("group_norm_2", rng)
    layer32 = hg.GroupNorm(2)
    layer32.build(x.shape[1:])
    layer32.params = {k: v.astype(np.float32) for k, v in layer64.params.items()}
    y32 = layer32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, layer64.forward(x), rtol=1e-4, atol=1e-5)


def test_in_sequential_the_model_gradients_pass(rng):
    model = hg.Sequential([hg.Conv2D(4, 3), hg.GroupNorm(2), hg.ELU(), hg.Flatten(), hg.Dense(6), hg.LayerNorm(),
                           hg.ELU(), hg.Dense(3)], input_shape=(2, 5, 4), seed=0)
    x, y = rng.standard_normal((3, 2, 5, 4)), np.array([0, 2, 1])
    report = check_model(model, x, y, verbose=False)
    assert report.passed, str(report)
    assert {"group_norm.gamma", "layer_norm.beta"} <= set(report.parameters)


def test_usable_from_a_model_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("import handgrad as hg\n\n"
                    "def net(input_shape, num_classes):\n"
                    "    layers = [hg.Conv2D(4, 3), hg.GroupNorm(2), hg.ELU(), hg.Flatten(), hg.LayerNorm(),\n"
                    "              hg.Dense(num_classes)]\n"
                    "    return hg.Sequential(layers, input_shape=input_shape, seed=0)\n")
    model = build(path, "net", (1, 6, 6), 5)
    assert model.forward(np.zeros((2, 1, 6, 6), np.float32)).shape == (2, 5)


@pytest.mark.parametrize("make,message", [
    (lambda: hg.GroupNorm(0), "GroupNorm: groups must be >= 1, got 0"),
    (lambda: hg.LayerNorm(epsilon=0.0), "LayerNorm: epsilon must be > 0.0, got 0.0"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_groups_must_divide_the_channels():
    with pytest.raises(hg.errors.ShapeError, match=r"group_norm: groups=4 must divide the number of channels, "
                                                   r"got C = 6"):
        hg.Sequential([hg.GroupNorm(4), hg.Flatten(), hg.Dense(2)], input_shape=(6, 3, 3))
