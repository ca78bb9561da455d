"""Optimizer state: lazy creation, dtypes, checkpoint round trips, argument and checkpoint errors."""
import json
import tracemalloc

import numpy as np
import pytest

from handgrad import optim
from handgrad.optim import schedules

FACTORIES = {
    "sgd": lambda: optim.SGD(lr=0.1),
    "momentum": lambda: optim.Momentum(lr=0.05),
    "nesterov": lambda: optim.Momentum(lr=0.05, nesterov=True),
    "rmsprop": lambda: optim.RMSProp(lr=0.01),
    "adam": lambda: optim.Adam(lr=0.05),
    "adamw": lambda: optim.AdamW(lr=0.05, weight_decay=0.1, decay=lambda n: n.endswith(".W")),
    "adam_clip_warmup_cosine": lambda: optim.Adam(lr=schedules.make_schedule("cosine", 0.05, 20, warmup_steps=3),
                                                  clipnorm=2.0),
    "momentum_clip_step": lambda: optim.Momentum(lr=schedules.StepDecay(0.05, 4, 0.5), clipnorm=1.0),
}
SLOTS = {"sgd": (), "momentum": ("v",), "nesterov": ("v",), "rmsprop": ("v",), "adam": ("m", "v", "step"),
         "adamw": ("m", "v", "step"), "adam_clip_warmup_cosine": ("m", "v", "step"),
         "momentum_clip_step": ("v",)}


def run(opt, problem, params, steps):
    for _ in range(steps):
        opt.step(params, problem.grads(params))
    return params


# ---------------------------------------------------------------- lazy state
@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_state_is_created_lazily(problem, case):
    opt = FACTORIES[case]()
    assert opt.state == {} and opt.iterations == 0
    assert set(opt.state_dict()) == {"iterations"}
    params = problem.params()
    first = {n: params[n] for n in ("conv2d.W", "conv2d.b")}
    opt.step(first, problem.grads(first))
    assert set(opt.state) == set(first)  # only the parameters seen so far
    opt.step(params, problem.grads(params))  # the dense parameters join now
    assert set(opt.state) == set(params)
    expected = {"iterations"} | {f"{n}/{s}" for n in params for s in SLOTS[case]}
    assert set(opt.state_dict()) == expected
    assert opt.iterations == 2


def test_new_state_starts_at_zero(problem):
    opt = optim.Adam(lr=0.05)
    params = problem.params()
    opt.step(params, problem.grads(params))
    g = problem.grads(problem.params())["dense.W"]  # the gradient of the first step
    np.testing.assert_allclose(opt.state["dense.W"]["m"], 0.1 * g, rtol=1e-15)  # (1 - beta1) * g + beta1 * 0
    np.testing.assert_allclose(opt.state["dense.W"]["v"], 0.001 * g * g, rtol=1e-13)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_float32_stays_float32(problem, case):
    opt = FACTORIES[case]()
    p32 = run(opt, problem, problem.params(np.float32), 10)
    p64 = run(FACTORIES[case](), problem, problem.params(np.float64), 10)
    for name in p32:
        assert p32[name].dtype == np.float32
        np.testing.assert_allclose(p32[name], p64[name], rtol=1e-4, atol=1e-5)
    for key, arr in opt.state_dict().items():
        expected = np.int64 if key == "iterations" or key.endswith("/step") else np.float32
        assert arr.dtype == expected, key


def test_updates_in_place(problem):
    params = problem.params()
    ids = {n: id(p) for n, p in params.items()}
    before = {n: p.copy() for n, p in params.items()}
    optim.Adam(lr=0.05).step(params, problem.grads(params))
    assert {n: id(p) for n, p in params.items()} == ids
    assert all(not np.array_equal(params[n], before[n]) for n in params)


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_step_allocates_no_model_sized_temporaries(case):
    """After the first step (state and scratch created), a step allocates nothing the size of a parameter."""
    params = {"big.W": np.ones((500, 400)), "big.b": np.ones(400)}  # 1.6 MB + 3.2 kB
    grads = {"big.W": np.full((500, 400), 0.5), "big.b": np.full(400, 0.5)}
    opt = FACTORIES[case]()
    opt.step(params, grads)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        opt.step(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < params["big.W"].nbytes // 20, f"{case}: a step allocated {peak - before} bytes"


# ---------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_state_dict_round_trip_is_bit_identical(problem, case, tmp_path):
    k, m = 7, 8
    straight = run(FACTORIES[case](), problem, problem.params(), k + m)

    opt = FACTORIES[case]()
    params = run(opt, problem, problem.params(), k)
    saved = opt.state_dict()
    np.savez(tmp_path / "opt.npz", **saved)
    params = {n: p.copy() for n, p in params.items()}  # the model's checkpoint, saved separately
    before = {key: arr.copy() for key, arr in saved.items()}
    run(opt, problem, {n: p.copy() for n, p in params.items()}, 2)  # the old optimizer goes on...
    for key in saved:  # ...without touching what state_dict returned
        assert np.array_equal(saved[key], before[key]), key

    resumed = FACTORIES[case]()
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as npz:
        resumed.load_state_dict(npz)
    assert resumed.iterations == k
    run(resumed, problem, params, m)
    for name in straight:
        assert np.array_equal(params[name], straight[name]), name
    uninterrupted = FACTORIES[case]()
    run(uninterrupted, problem, problem.params(), k + m)
    a, b = resumed.state_dict(), uninterrupted.state_dict()
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[key], b[key]) and a[key].dtype == b[key].dtype for key in a)


def test_state_dict_is_flat_arrays_only(problem):
    opt = FACTORIES["adamw"]()
    run(opt, problem, problem.params(), 3)
    sd = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert sd["iterations"].shape == () and int(sd["iterations"]) == 3
    assert sd["conv2d.W/m"].shape == (2, 1, 3, 3) and sd["conv2d.W/step"].shape == ()


def test_loading_replaces_state_and_schedule_position(problem):
    opt = optim.SGD(lr=schedules.StepDecay(0.1, step_size=2, gamma=0.5))
    opt.load_state_dict({"iterations": np.array(4)})
    assert opt.iterations == 4 and opt.current_lr() == pytest.approx(0.025)


def saved_adam(problem, steps=2):
    opt = optim.Adam(lr=0.05)
    run(opt, problem, problem.params(), steps)
    return opt.state_dict()


def test_load_rejects_unexpected_key(problem):
    sd = saved_adam(problem)
    sd["dense.W/momentum"] = sd["dense.W/m"]
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: unexpected key 'dense.W/momentum'.*'m', 'v', 'step'"):
        optim.Adam().load_state_dict(sd)


def test_load_rejects_state_of_another_optimizer(problem):
    with pytest.raises(ValueError, match=r"Momentum.load_state_dict: unexpected key 'conv2d.W/m'"):
        optim.Momentum().load_state_dict(saved_adam(problem))
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: unexpected key"):
        optim.SGD().load_state_dict(saved_adam(problem))


def test_load_rejects_missing_slot(problem):
    sd = saved_adam(problem)
    del sd["dense.b/v"]
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state for parameter 'dense.b' lacks slots \['v'\]"):
        optim.Adam().load_state_dict(sd)


@pytest.mark.parametrize("bad", [None, np.array([1, 2]), np.array(1.5), np.array(-1)])
def test_load_rejects_bad_iterations(problem, bad):
    sd = saved_adam(problem)
    if bad is None:
        del sd["iterations"]
    else:
        sd["iterations"] = bad
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: .*'iterations'"):
        optim.Adam().load_state_dict(sd)


def test_loaded_state_must_fit_the_parameters(problem):
    sd = saved_adam(problem)
    sd["dense.W/m"] = np.zeros((3, 4))
    opt = optim.Adam()
    opt.load_state_dict(sd)
    params = problem.params()
    before = {n: p.copy() for n, p in params.items()}
    with pytest.raises(ValueError, match=r"Adam: loaded state 'dense.W/m' must have shape \(4, 3\) and dtype "
                                         r"float64 for parameter 'dense.W', got shape \(3, 4\)"):
        opt.step(params, problem.grads(params))
    assert all(np.array_equal(params[n], before[n]) for n in params)  # nothing was modified


def test_loaded_state_must_have_the_parameters_dtype(problem):
    opt = optim.Adam()
    opt.load_state_dict(saved_adam(problem))
    params = problem.params(np.float32)
    with pytest.raises(ValueError, match=r"Adam: loaded state 'conv2d.W/m' must have shape .* and dtype float32"):
        opt.step(params, problem.grads(params))


def test_loaded_state_must_cover_the_same_parameters(problem):
    opt = optim.Adam()
    opt.load_state_dict(saved_adam(problem))
    params = problem.params()
    del params["dense.b"]
    grads = problem.grads(params)
    params["extra.W"], grads["extra.W"] = np.zeros(2), np.ones(2)
    with pytest.raises(ValueError, match=r"Adam: the loaded state does not match the parameters: no state for "
                                         r"\['extra.W'\], state for unknown parameters \['dense.b'\]"):
        opt.step(params, grads)


# ---------------------------------------------------------------- step arguments
def test_missing_gradient_names_the_parameter(problem):
    params = problem.params()
    grads = problem.grads(params)
    del grads["dense.b"]
    with pytest.raises(ValueError, match=r"Momentum: no gradient for parameter 'dense.b'"):
        optim.Momentum().step(params, grads)


def test_gradient_shape_mismatch_names_the_parameter(problem):
    params = problem.params()
    grads = problem.grads(params)
    grads["dense.W"] = grads["dense.W"].T
    with pytest.raises(ValueError, match=r"Adam: gradient for parameter 'dense.W' must have shape \(4, 3\), "
                                         r"got \(3, 4\)"):
        optim.Adam().step(params, grads)


def test_gradient_for_unknown_parameter(problem):
    params = problem.params()
    grads = problem.grads(params)
    grads["ghost.W"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"SGD: gradients for unknown parameters \['ghost.W'\]"):
        optim.SGD().step(params, grads)


def test_parameter_must_be_a_writable_float_array(problem):
    with pytest.raises(TypeError, match=r"SGD: parameter 'w' must be a floating-point np.ndarray, got ndarray int64"):
        optim.SGD().step({"w": np.arange(3)}, {"w": np.ones(3)})
    w = np.ones(3)
    w.flags.writeable = False
    with pytest.raises(ValueError, match=r"SGD: parameter 'w' is read-only"):
        optim.SGD().step({"w": w}, {"w": np.ones(3)})


def test_errors_leave_the_optimizer_untouched(problem):
    opt = optim.Adam(clipnorm=1.0)
    params = problem.params()
    grads = problem.grads(params)
    before = {n: g.copy() for n, g in grads.items()}
    grads["dense.W"] = grads["dense.W"][:2]
    with pytest.raises(ValueError):
        opt.step(params, grads)
    assert opt.iterations == 0 and opt.state == {}
    assert np.array_equal(grads["conv2d.W"], before["conv2d.W"])  # not clipped either


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_get_config_is_json(case):
    config = FACTORIES[case]().get_config()
    assert json.loads(json.dumps(config)) == config


def test_get_config_contents():
    assert optim.Momentum(lr=0.1, momentum=0.5, nesterov=True).get_config() == {
        "lr": 0.1, "clipnorm": None, "momentum": 0.5, "nesterov": True}
    assert optim.AdamW(lr=schedules.Cosine(0.1, 10), clipnorm=1.0).get_config() == {
        "lr": {"class_name": "Cosine", "config": {"lr": 0.1, "total_steps": 10, "min_lr": 0.0}}, "clipnorm": 1.0,
        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "decay": None}
    assert optim.AdamW(decay=lambda n: True).get_config()["decay"].endswith("<lambda>")
    assert optim.RMSProp().get_config() == {"lr": 0.001, "clipnorm": None, "rho": 0.9, "eps": 1e-7}


def test_clipnorm_scales_the_callers_grads_in_place(problem):
    """Documented side effect (as torch's clip_grad_norm_ on .grad): step clips the arrays it was given."""
    params = problem.params()
    grads = problem.grads(params)
    optim.SGD(clipnorm=1.0).step(params, grads)
    assert optim.global_norm(grads) == pytest.approx(1.0, rel=1e-5)
