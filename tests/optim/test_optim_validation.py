"""Bad hyperparameters fail at construction, naming the optimizer, the argument, the bound and the value."""
import re

import numpy as np
import pytest

from handgrad import optim
from handgrad.optim import schedules

INF, NAN = float("inf"), float("nan")

CASES = [
    (lambda: optim.SGD(lr=-1.0), ValueError, "SGD: lr must be > 0, got -1.0"),
    (lambda: optim.SGD(lr=0), ValueError, "SGD: lr must be > 0, got 0.0"),
    (lambda: optim.Adam(lr=-1.0), ValueError, "Adam: lr must be > 0, got -1.0"),
    (lambda: optim.Adam(lr=NAN), ValueError, "Adam: lr must be finite, got nan"),
    (lambda: optim.RMSProp(lr=INF), ValueError, "RMSProp: lr must be finite, got inf"),
    (lambda: optim.AdamW(lr="0.1"), TypeError, "AdamW: lr must be a number, got '0.1' (str)"),
    (lambda: optim.Momentum(lr=True), TypeError, "Momentum: lr must be a number, got True (bool)"),
    (lambda: optim.Momentum(momentum=1.0), ValueError, "Momentum: momentum must be < 1, got 1.0"),
    (lambda: optim.Momentum(momentum=-0.1), ValueError, "Momentum: momentum must be >= 0, got -0.1"),
    (lambda: optim.Momentum(momentum=0.0, nesterov=True), ValueError,
     "Momentum: momentum must be > 0 when nesterov=True, got 0.0"),
    (lambda: optim.Momentum(nesterov=1), TypeError, "Momentum: nesterov must be a bool, got 1 (int)"),
    (lambda: optim.RMSProp(rho=1.0), ValueError, "RMSProp: rho must be < 1, got 1.0"),
    (lambda: optim.RMSProp(rho=-0.5), ValueError, "RMSProp: rho must be >= 0, got -0.5"),
    (lambda: optim.RMSProp(eps=0.0), ValueError, "RMSProp: eps must be > 0, got 0.0"),
    (lambda: optim.Adam(beta1=1.0), ValueError, "Adam: beta1 must be < 1, got 1.0"),
    (lambda: optim.Adam(beta2=1.5), ValueError, "Adam: beta2 must be < 1, got 1.5"),
    (lambda: optim.Adam(beta2=-0.1), ValueError, "Adam: beta2 must be >= 0, got -0.1"),
    (lambda: optim.Adam(eps=-1e-8), ValueError, "Adam: eps must be > 0, got -1e-08"),
    (lambda: optim.AdamW(beta1=1.0), ValueError, "AdamW: beta1 must be < 1, got 1.0"),
    (lambda: optim.AdamW(weight_decay=-0.01), ValueError, "AdamW: weight_decay must be >= 0, got -0.01"),
    (lambda: optim.AdamW(weight_decay=NAN), ValueError, "AdamW: weight_decay must be finite, got nan"),
    (lambda: optim.AdamW(decay=".W"), TypeError,
     "AdamW: decay must be None or a callable name -> bool, got '.W' (str)"),
    (lambda: optim.SGD(clipnorm=0.0), ValueError, "SGD: clipnorm must be > 0, got 0.0"),
    (lambda: optim.Adam(clipnorm=-1), ValueError, "Adam: clipnorm must be > 0, got -1.0"),
    (lambda: optim.Adam(clipnorm=INF), ValueError, "Adam: clipnorm must be finite, got inf"),
]


@pytest.mark.parametrize("make, error, message", CASES, ids=[c[2].split(",")[0] for c in CASES])
def test_bad_hyperparameter(make, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        make()


def test_boundary_values_are_accepted():
    optim.Momentum(momentum=0.0)
    optim.RMSProp(rho=0.0)
    optim.Adam(beta1=0.0, beta2=0.0)
    optim.AdamW(weight_decay=0.0)
    optim.SGD(lr=schedules.Cosine(0.1, 5))  # a schedule instead of a number


@pytest.mark.parametrize("value", [-0.1, float("nan"), "fast"])
def test_bad_schedule_output_fails_at_step(value):
    opt = optim.SGD(lr=lambda step: 0.1 if step == 0 else value)
    params, grads = {"w": np.ones(2)}, {"w": np.ones(2)}
    opt.step(params, grads)
    with pytest.raises(ValueError, match=re.escape(f"SGD: the lr schedule must return a finite number >= 0, got "
                                                   f"{value!r} at step 1")):
        opt.step(params, grads)
    assert opt.iterations == 1 and np.array_equal(params["w"], [0.9, 0.9])


def test_schedule_may_reach_zero():
    opt = optim.SGD(lr=schedules.Cosine(0.1, total_steps=1))
    params = {"w": np.ones(2)}
    opt.step(params, {"w": np.ones(2)})
    assert opt.current_lr() == 0.0
    opt.step(params, {"w": np.ones(2)})
    np.testing.assert_array_equal(params["w"], [0.9, 0.9])


# ---------------------------------------------------------------- factory
@pytest.mark.parametrize("name, cls", [("sgd", optim.SGD), ("momentum", optim.Momentum), ("nesterov", optim.Momentum),
                                       ("rmsprop", optim.RMSProp), ("adam", optim.Adam), ("adamw", optim.AdamW),
                                       ("Adam", optim.Adam)])
def test_get(name, cls):
    opt = optim.get(name, lr=0.5)
    assert type(opt) is cls and opt.lr == 0.5
    if cls is optim.Momentum:
        assert opt.nesterov == (name == "nesterov")


def test_get_passes_keyword_arguments():
    opt = optim.get("adamw", weight_decay=0.1, clipnorm=2.0)
    assert opt.weight_decay == 0.1 and opt.clipnorm == 2.0
    assert optim.get("sgd").get_config() == optim.SGD().get_config()
    with pytest.raises(ValueError, match=r"^Adam: beta1 must be < 1, got 2.0$"):
        optim.get("adam", beta1=2.0)


def test_get_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=re.escape("unknown optimizer 'adagrad'; expected one of 'sgd', 'momentum', "
                                                   "'nesterov', 'rmsprop', 'adam', 'adamw'")):
        optim.get("adagrad")


def test_get_nesterov_rejects_contradiction():
    with pytest.raises(ValueError, match=r"'nesterov' is Momentum\(nesterov=True\), got nesterov=False"):
        optim.get("nesterov", nesterov=False)
