"""Every case of the layer registry (``tests/layer_cases.py``), proven twice: central finite differences in
float64 in each of its modes, and its PyTorch twin with identical weights in each of its modes."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer
from tests.layer_cases import CASES, LAYERS
from tests.torch_oracle import t

FD_CASES = [pytest.param(c, training, id=f"{c.id}-{'training' if training else 'inference'}")
            for _, c in CASES for training in c.modes]
TORCH_CASES = [pytest.param(info, c, training, id=f"{c.id}-{'training' if training else 'inference'}")
               for info, c in CASES if info.torch is not None for training in c.modes]


def public_layer_classes():
    classes = [getattr(hg.layers, name) for name in hg.layers.__all__]
    return [c for c in classes if isinstance(c, type) and issubclass(c, hg.layers.Layer) and c is not hg.layers.Layer]


def test_every_public_layer_has_an_entry():
    missing = [c.__name__ for c in public_layer_classes() if c not in LAYERS]
    assert not missing, f"add these layers to tests/layer_cases.py: {missing}"
    assert all(LAYERS[c].cases for c in public_layer_classes())
    ids = [c.id for _, c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"


def test_the_entry_check_sees_a_layer_without_an_entry(monkeypatch):
    class Unregistered(hg.layers.Layer):
        pass

    monkeypatch.setattr(hg.layers, "Unregistered", Unregistered, raising=False)
    monkeypatch.setattr(hg.layers, "__all__", [*hg.layers.__all__, "Unregistered"])
    with pytest.raises(AssertionError, match=r"add these layers to tests/layer_cases.py: \['Unregistered'\]"):
        test_every_public_layer_has_an_entry()


@pytest.mark.parametrize("case,training", FD_CASES)
def test_finite_differences(case, training, rng):
    layer, x = case.build(rng, for_fd=True)
    options = {} if case.fd_tol is None else {"tol": case.fd_tol}
    report = check_layer(layer, x, training=training, verbose=False, **options)
    assert report.passed, str(report)
    assert report.parameters == ["x", *layer.params]
    if case.min_checked:  # real checks, not entries on the noise floor
        out = report.get("x", "output")
        assert out.checked >= case.min_checked and out.max_rel_error < 1e-5


@pytest.mark.parametrize("info,case,training", TORCH_CASES)
def test_matches_torch(info, case, training, rng):
    layer, x = case.build(rng)
    X = t(x, grad=True)
    P = {k: t(v, grad=True) for k, v in layer.params.items()}
    Y = info.torch(layer, X, P, training)  # before the forward, which moves a training layer's state
    y = layer.forward(x, training=training)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    Y.backward(t(dy))
    np.testing.assert_allclose(y, Y.detach().numpy(), *case.tol("y"))
    np.testing.assert_allclose(dx, X.grad.numpy(), *case.tol("dx"))
    assert set(layer.grads) == set(P)
    for k in P:
        np.testing.assert_allclose(layer.grads[k], P[k].grad.numpy(), *case.tol(k), err_msg=k)
