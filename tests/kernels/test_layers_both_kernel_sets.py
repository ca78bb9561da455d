"""Layers and whole models give the same results with the NumPy reference kernels and the fast ones."""
import copy

import numpy as np
import pytest

import handgrad as hg
from handgrad.kernels import backend
from handgrad.kernels import numba as kernels_numba
from handgrad.kernels import numpy as kernels_numpy
from handgrad.kernels.numba.fusion import ConvELUMaxPool, ELUMaxPool
from handgrad.models import reference_cnn

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-11, atol=1e-13)}


def run_layer(layer, x, dy_of, kernels, input_grad=True):
    """``(y, dx, grads)`` of a fresh copy of ``layer`` with the given kernel set."""
    layer = copy.deepcopy(layer)
    with backend.using_kernels(kernels):
        y = layer.forward(x, training=True)
        dx = layer.backward(dy_of(y), input_grad=input_grad)
    return y, dx, {k: g.copy() for k, g in layer.grads.items()}


LAYERS = [
    lambda: hg.Conv2D(5, (3, 2), stride=(2, 1), padding="same", activation="elu"),
    lambda: hg.Conv2D(4, 3, padding="valid"),
    lambda: hg.Conv2D(3, 5, stride=2, padding=2, use_bias=False),
    lambda: hg.MaxPool2D(2),
    lambda: hg.MaxPool2D(3, stride=2),
    lambda: hg.ELU(alpha=0.5),
    lambda: hg.Dense(7, activation="elu"),
    lambda: hg.BatchNorm2D(momentum=0.9),
    lambda: hg.BatchNorm1D(epsilon=1e-2),
]


@pytest.mark.parametrize("make", LAYERS, ids=lambda f: repr(f()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [2, 9])  # below and above fast.FEW_CHANNELS
def test_standalone_layer_same_with_both_kernel_sets(make, dtype, channels, rng):
    layer = make()
    shape = (3, 20) if isinstance(layer, (hg.Dense, hg.BatchNorm1D)) else (3, channels, 9, 7)
    x = rng.standard_normal(shape).astype(dtype)
    x_before = x.copy()
    dy = {}
    def dy_of(y):
        return dy.setdefault(y.shape, rng.standard_normal(y.shape).astype(dtype))
    ref = run_layer(layer, x, dy_of, "numpy")
    got = run_layer(layer, x, dy_of, "numba")
    np.testing.assert_array_equal(x, x_before)  # inputs are never modified in place
    for a, b in zip(got[:2], ref[:2]):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])
    assert got[2].keys() == ref[2].keys()
    for k in ref[2]:
        np.testing.assert_allclose(got[2][k], ref[2][k], **TOL[dtype], err_msg=k)


def test_gradient_of_any_memory_layout_and_unmodified_arguments(rng):
    layer = hg.Conv2D(4, 3, activation="elu")
    x = rng.standard_normal((2, 3, 6, 6))
    y = layer.forward(x)
    dy_c = rng.standard_normal(y.shape)
    expected = layer.backward(dy_c)
    for dy in (np.asfortranarray(dy_c), np.ascontiguousarray(dy_c.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
               np.stack([dy_c, -dy_c], axis=-1)[..., 0]):  # F-order, channels-last, strided
        before = dy.copy()
        np.testing.assert_allclose(layer.backward(dy), expected, rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(dy, before)


def test_returned_arrays_are_not_overwritten_by_the_next_call(rng):
    """The buffer rule: outputs and gradients handed out stay valid; only private scratch is reused."""
    model = reference_cnn(input_shape=(1, 12, 12))
    x1, x2 = rng.standard_normal((2, 4, 1, 12, 12)).astype(np.float32)
    y1 = model.forward(x1)
    g1 = {k: v.copy() for k, v in model.loss(x1, np.arange(4))[1].items()}
    kept_y, kept_g = y1.copy(), model.gradients()
    model.forward(x2)
    model.loss(x2, np.arange(4))
    np.testing.assert_array_equal(y1, kept_y)
    for k, v in kept_g.items():
        np.testing.assert_array_equal(v, g1[k])


@pytest.mark.parametrize("activity_on", ["pre", "post"])  # "post": regularized ELU outputs, no fused step
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_network_same_with_both_kernel_sets(activity_on, dtype, rng):
    model = reference_cnn(input_shape=(3, 13, 11), weight_l2=1e-3, activity_l2=1e-2, activity_l1=1e-3,
                          activity_on=activity_on, dropout=0.25, seed=4, dtype=dtype)
    x = rng.standard_normal((5, 3, 13, 11)).astype(dtype)
    y = np.array([1, 0, 9, 3, 3])
    results = {}
    for kernels in ("numpy", "numba"):
        m = copy.deepcopy(model)  # same weights and dropout generator state
        with backend.using_kernels(kernels):
            terms, grads = m.loss(x, y, training=True)
            results[kernels] = terms, {k: g.copy() for k, g in grads.items()}, m._steps
    (t_ref, g_ref, steps_ref), (t_got, g_got, steps_got) = results["numpy"], results["numba"]
    assert all(hi == lo + 1 for lo, hi, _ in steps_ref)  # the references run layer by layer
    assert any(isinstance(s, ELUMaxPool) for _, _, s in steps_got) == (activity_on == "pre")
    for name in ("data", "weight", "activity"):
        assert getattr(t_got, name) == pytest.approx(getattr(t_ref, name), rel=TOL[dtype]["rtol"]), name
    for k in g_ref:
        scale = np.abs(g_ref[k]).max()
        np.testing.assert_allclose(g_got[k], g_ref[k], rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["rtol"] * scale,
                                   err_msg=k)


class ELUWithoutSlope(hg.ELU):
    """A fault injected by subclassing: dL/dx = dL/dy everywhere (wrong for x < 0)."""

    def _backward(self, dy, input_grad):
        return dy


class PoolWithBrokenBackward(hg.MaxPool2D):
    def _backward(self, dy, input_grad):
        return None


def kinds(layers, kernels=kernels_numba):
    return [type(s).__name__ for _, _, s in kernels.fusion_plan(layers)]


def test_fusion_only_for_unregularized_elu_before_max_pool_of_exactly_those_classes():
    assert kinds([hg.ELU(), hg.MaxPool2D(2), hg.ELU()]) == ["ELUMaxPool", "ELU"]
    assert kinds([hg.ELU(activity_regularizer=hg.L2(0.1)), hg.MaxPool2D(2)]) == ["ELU", "MaxPool2D"]
    assert kinds([hg.ELU(), hg.MaxPool2D(2, activity_regularizer=hg.L2(0.1))]) == ["ELUMaxPool"]
    assert kinds([hg.ELU(), hg.AvgPool2D(2)]) == ["ELU", "AvgPool2D"]
    assert kinds([hg.ELU(), hg.MaxPool2D(2)], kernels=kernels_numpy) == ["ELU", "MaxPool2D"]  # no fused kernels
    assert kinds([ELUWithoutSlope(), hg.MaxPool2D(2)]) == ["ELUWithoutSlope", "MaxPool2D"]
    assert kinds([hg.ELU(), PoolWithBrokenBackward(2)]) == ["ELU", "PoolWithBrokenBackward"]


def test_a_fault_injected_by_a_subclass_is_seen_with_the_fast_kernels(rng):
    """The subclass runs alone (not fused), so its wrong backward changes the gradients: a gradient check
    of a model holding it fails, as it must."""
    from handgrad.gradcheck import check_model

    def model(elu):
        layers = [hg.Conv2D(3, 3), elu, hg.MaxPool2D(2), hg.Flatten(), hg.Dense(2)]
        m = hg.Sequential(layers, input_shape=(1, 6, 6), seed=1)
        m.layer("conv2d").params["b"][...] = -1.0  # negative window maxima, where ELU's slope is not 1
        return m

    x, y = rng.standard_normal((2, 1, 6, 6)), np.array([0, 1])
    with backend.using_kernels("numba"):
        assert check_model(model(hg.ELU()), x, y, verbose=False).passed
        report = check_model(model(ELUWithoutSlope()), x, y, verbose=False)
    assert report.failed_parameters() == ["conv2d.W", "conv2d.b"]


def test_the_plan_is_built_once_per_layers_and_kernel_set(rng):
    model = reference_cnn(input_shape=(1, 8, 8))
    x = rng.standard_normal((2, 1, 8, 8))
    with backend.using_kernels("numba"):
        model.forward(x)
        first = model._steps
        model.forward(x)
        assert model._steps is first and any(isinstance(s, ConvELUMaxPool) for _, _, s in first)
    with backend.using_kernels("numpy"):
        model.forward(x)
        assert all(hi == lo + 1 for lo, hi, _ in model._steps)
    with backend.using_kernels("numba"):
        model.forward(x)
        def shape(steps):
            return [(lo, hi, type(s)) for lo, hi, s in steps]
        assert model._steps is not first and shape(model._steps) == shape(first)  # rebuilt, same plan
        model.layers[1] = ELUWithoutSlope()  # a layer replaced: the plan follows
        model.layers[1].build(model.layers[0].output_shape)
        model.forward(x)
        assert [type(s).__name__ for _, _, s in model._steps][:3] == ["Conv2D", "ELUWithoutSlope", "MaxPool2D"]


def test_elu_backward_before_forward_names_the_layer():
    with pytest.raises(RuntimeError, match="elu: backward called before forward"):
        hg.ELU().backward(np.zeros((2, 3)))


def test_sequential_asks_for_the_plan_once_per_kernel_set_layers_and_activity_regularizers(rng, monkeypatch):
    asked = []
    for kernels in (kernels_numba, kernels_numpy):
        def counted(layers, plan=kernels.fusion_plan, name=kernels.NAME):
            asked.append(name)
            return plan(layers)
        monkeypatch.setattr(kernels, "fusion_plan", counted)
    model = hg.Sequential([hg.Conv2D(2, 3), hg.ELU(), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(3)],
                          input_shape=(1, 6, 6), seed=0)
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    with backend.using_kernels("numba"):
        for _ in range(3):
            model.loss(x, np.array([0, 2]), training=True)
        assert asked == ["numba"]
        assert [type(s).__name__ for _, _, s in model._steps] == ["ConvELUMaxPool", "Flatten", "Dense"]
        model.layers[1].activity_regularizer = hg.L2(0.1)  # the ELU's output is now needed: no fusion
        model.forward(x)
        assert asked == ["numba", "numba"]
        assert [type(s).__name__ for _, _, s in model._steps] == ["Conv2D", "ELU", "MaxPool2D", "Flatten", "Dense"]
    with backend.using_kernels("numpy"):
        model.forward(x)
        model.forward(x)
    assert asked == ["numba", "numba", "numpy"]
