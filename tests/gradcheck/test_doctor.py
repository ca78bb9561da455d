"""The gradient doctor on users' own networks written from scratch (``cs231n_nets``): each planted mistake
is found, named and diagnosed as what was planted; correct code passes without a warning."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handgrad.gradcheck import UserCodeError, diagnose
from tests.gradcheck.cs231n_nets import MLP, ConvNet, three_conv_loss, three_conv_params

TERMS = {"weight": "reg", "activity": "act_reg"}
FAST = dict(samples=6, verbose=False)


def batch(seed, n=4, shape=(1, 8, 8), classes=10):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, size=n)


def failing(report, term):
    return report.failed_parameters(term)


# ------------------------------------------------------------------ the helper's correct code is correct
def test_the_helpers_correct_convnet_matches_torch_autograd():
    """The independent reference for 'correct': PyTorch autograd on the same weights and loss."""
    model = ConvNet(input_dim=(1, 8, 8), reg=0.03, act_reg=0.05, seed=3)
    x, y = batch(3)
    loss, grads = model.loss(x, y)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    a1 = F.conv2d(torch.tensor(x), p["W1"], p["b1"], padding=1)
    h1 = F.max_pool2d(F.elu(a1), 2)
    a2 = F.conv2d(h1, p["W2"], p["b2"], padding=1)
    h2 = F.max_pool2d(F.elu(a2), 2).reshape(4, -1)
    scores = F.elu(h2 @ p["W3"] + p["b3"]) @ p["W4"] + p["b4"]
    t_loss = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * 0.03 * sum((p[k] ** 2).sum() for k in
                                                                          ("W1", "W2", "W3", "W4")) \
        + 0.05 * (a2 ** 2).sum() / 4
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for k, v in p.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


# ------------------------------------------------------------------ the four variants of the issue
def test_incomplete_backward_is_missing_for_the_first_conv_weights_and_both_biases_in_the_activity_term():
    x, y = batch(0)
    report = diagnose(ConvNet(input_dim=(1, 8, 8), variant="incomplete"), x, y, TERMS, **FAST)
    assert not report.passed
    assert failing(report, "activity") == ["W1", "b1", "b2"]
    assert failing(report, "data") == [] and failing(report, "weight") == []
    for name in ("W1", "b1", "b2"):
        check = report.get(name, "activity")
        assert check.diagnosis == "missing", check
        assert f"never reaches {name}" in check.message
    assert all(b.passed for b in report.batch_scaling)
    assert report.notes == []


def test_batch_summed_penalty_passes_every_gradient_check_and_fails_the_probe_by_name():
    x, y = batch(1)
    report = diagnose(ConvNet(input_dim=(1, 8, 8), variant="batch_summed"), x, y, TERMS, **FAST)
    assert report.failures() == []
    assert not report.passed
    [bad] = report.probe_failures()
    assert bad.term == "activity" and bad.summed_over_batch and bad.ratio == pytest.approx(2.0, rel=1e-9)
    assert "at batch 4 this penalty is 4 times stronger than its coefficient" in bad.message
    assert "Keras divides by N" in bad.message
    assert [b.term for b in report.batch_scaling] == ["data", "weight", "activity"]
    assert "activity   ratio 2.0000  FAIL" in str(report)


@pytest.mark.parametrize("n", [3, 5])
def test_gradient_n_times_too_large_is_scaled_by_n(n):
    x, y = batch(2, n=n)
    report = diagnose(ConvNet(input_dim=(1, 8, 8), variant="scaled"), x, y, TERMS, **FAST)
    assert failing(report, "activity") == ["W1", "b1", "W2", "b2"]
    for name in ("W1", "b1", "W2", "b2"):
        check = report.get(name, "activity")
        assert check.diagnosis == "scaled" and check.scale == pytest.approx(n, rel=1e-4)
        assert f"N = {n} times too large: the gradient sums the activity penalty over the batch while the loss " \
               f"averages" in check.message
        assert report.get(name, "total").diagnosis is not None  # the total fails too, explained by the term
    assert failing(report, "data") == [] and failing(report, "weight") == []


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_correct_code_passes_with_no_warning(seed):
    x, y = batch(10 + seed)
    model = ConvNet(input_dim=(1, 8, 8), seed=seed)
    report = diagnose(model, x, y, TERMS, seed=seed, **FAST)
    assert report.passed, str(report)
    assert report.notes == [] and all(b.ratio == pytest.approx(1.0, abs=1e-9) for b in report.batch_scaling)
    assert report.terms == ["data", "weight", "activity", "total"]
    assert report.get("b1", "activity").max_rel_error < 1e-5  # a real check of a non-zero gradient


# ------------------------------------------------------------------ other kinds, other networks
@pytest.mark.parametrize("variant,term,kind,k,words", [
    ("reg_twice", "weight", "scaled", 2.0, "0.5 * reg convention on one side only"),
    ("reg_half", "weight", "scaled", 0.5, "1/2 times too small"),
    ("reg_sign", "weight", "sign", -1.0, "wrong sign"),
    ("data_grad_summed", "data", "scaled", 5.0, "N = 5 times too large: the gradient sums the loss"),
])
def test_mlp_mistakes_are_diagnosed(variant, term, kind, k, words):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((5, 20)), rng.integers(0, 5, size=5)
    report = diagnose(MLP(variant=variant), x, y, TERMS, **FAST)
    failed = [c for c in report.failures() if c.term != "total"]
    assert {c.term for c in failed} == {term}
    assert {c.parameter for c in failed} >= {"W1", "W2"}
    for c in failed:
        assert c.diagnosis == kind and c.scale == pytest.approx(k, rel=1e-4) and words in c.message


def test_mlp_summed_data_loss_fails_the_probe_and_without_terms_the_total_does():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((5, 20)), rng.integers(0, 5, size=5)
    report = diagnose(MLP(variant="data_summed"), x, y, TERMS, **FAST)
    assert report.failures() == [] and [b.term for b in report.probe_failures()] == ["data"]
    alone = diagnose(MLP(variant="data_summed"), x, y, **FAST)  # no terms: the probe runs on the total
    assert alone.terms == ["total"] and [b.term for b in alone.probe_failures()] == ["total"]
    assert diagnose(MLP(), x, y, **FAST).passed


def test_three_conv_relu_function_form():
    x, y = batch(6, n=3, classes=4)
    params = three_conv_params(1)
    assert diagnose(three_conv_loss, x, y, TERMS, params=params, **FAST).passed

    def incomplete(p, x, y, reg=1e-2, act_reg=1e-2):
        return three_conv_loss(p, x, y, reg, act_reg, variant="incomplete")

    report = diagnose(incomplete, x, y, TERMS, params=params, **FAST)
    assert failing(report, "activity") == ["W1", "b1", "W2", "b2", "b3"]  # W3: its own penalty only, complete
    kinds = {c.parameter: c.diagnosis for c in report.failures() if c.term == "activity"}
    assert kinds == {"W1": "wrong", "W2": "wrong", "b1": "missing", "b2": "missing", "b3": "missing"}
    assert "not passed on to the layers below" in report.get("W1", "activity").message


# ------------------------------------------------------------------ the user's things are left alone
def test_object_is_restored_exactly_also_when_its_loss_raises():
    model = ConvNet(input_dim=(1, 8, 8), variant="float32")  # float32 arrays, as CS231n's default
    params, arrays = model.params, dict(model.params)
    values = {k: v.copy() for k, v in arrays.items()}
    x, y = batch(7)
    report = diagnose(model, x, y, TERMS, **FAST)
    calls = {"n": 0}
    original = model.loss

    def flaky(X, y):
        calls["n"] += 1
        if calls["n"] == 9:
            raise RuntimeError("boom")
        return original(X, y)

    model.loss = flaky
    with pytest.raises(UserCodeError, match="raised RuntimeError: boom"):
        diagnose(model, x, y, TERMS, **FAST)
    for check in (model,):
        assert check.params is params and check.reg == 1e-2 and check.act_reg == 1e-2
        for k, v in arrays.items():
            assert check.params[k] is v and v.dtype == np.float32 and np.array_equal(v, values[k])
    assert any("float32" in n for n in report.notes) and "computed in float32" in str(report)
    assert {c.diagnosis for c in report.failures()} == {"float32"}


def test_a_loss_that_writes_into_its_inputs_cannot_change_them_or_the_check():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((5, 20)), rng.integers(0, 5, size=5)
    model = MLP()
    params = {k: v.copy() for k, v in model.params.items()}
    before = {k: v.copy() for k, v in params.items()}

    def careless(p, x, y, reg=0.1, act_reg=1e-2):
        model.params, model.reg, model.act_reg = dict(p), reg, act_reg
        out = model.loss(x, y)
        p["W1"] += 1e-3  # writes into what it is given (after using it)
        x *= 2.0
        return out

    report = diagnose(careless, x, y, TERMS, params=params, **FAST)
    assert report.passed, str(report)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    [note] = report.notes
    assert "wrote into its inputs (params['W1'], x)" in note


def test_float32_computation_returned_as_python_floats_is_detected():
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((5, 20)), rng.integers(0, 5, size=5)
    model = MLP()

    def single(p, x, y):
        model.params = {k: v.astype(np.float32) for k, v in p.items()}
        loss, g = model.loss(x.astype(np.float32), y)
        return float(loss), {k: v.astype(np.float64) for k, v in g.items()}

    report = diagnose(single, x, y, params=MLP().params, **FAST)
    assert not report.passed and "every value it returned is a float32 number" in report.notes[0]


# ------------------------------------------------------------------ errors: one clear line
def test_errors_name_the_argument_or_the_users_function():
    x, y = batch(0)
    model = ConvNet(input_dim=(1, 8, 8))
    with pytest.raises(ValueError, match="tol must be a number in \\(0, 1\\), got inf"):
        diagnose(model, x, y, tol=float("inf"))
    with pytest.raises(ValueError, match="eps must be a number in \\(0, 1\\), got 0"):
        diagnose(model, x, y, eps=0)
    with pytest.raises(ValueError, match="has no attribute 'lam'"):
        diagnose(model, x, y, {"activity": "lam"})
    model.act_reg = 0.0
    with pytest.raises(ValueError, match="the activity coefficient 'act_reg' is 0.0"):
        diagnose(model, x, y, TERMS)
    with pytest.raises(UserCodeError, match="must return \\(loss, grads\\), got float"):
        diagnose(lambda p, x, y: 1.0, x, y, params={"w": np.ones(2)})
    with pytest.raises(UserCodeError, match="missing \\['w'\\], unexpected \\['v'\\]"):
        diagnose(lambda p, x, y: (1.0, {"v": np.ones(2)}), x, y, params={"w": np.ones(2)})
    with pytest.raises(UserCodeError, match="not deterministic"):
        diagnose(lambda p, x, y: (np.random.rand(), {"w": np.ones(2)}), x, y, params={"w": np.ones(2)})
    with pytest.raises(ValueError, match="keyword argument 'act_reg' has no default"):
        diagnose(lambda p, x, y, act_reg: (1.0, p), x, y, {"activity": "act_reg"}, params={"w": np.ones(2)})


def test_report_dict_has_the_documented_schema():
    x, y = batch(0)
    data = diagnose(ConvNet(input_dim=(1, 8, 8), variant="incomplete"), x, y, TERMS, **FAST).to_dict()
    assert data["passed"] is False
    assert {"parameter", "term", "passed", "max_rel_error", "diagnosis", "scale", "message"} <= set(data["checks"][0])
    assert {"term", "ratio", "summed_over_batch", "message"} <= set(data["batch_scaling"][0])
    row = next(c for c in data["checks"] if (c["parameter"], c["term"]) == ("b1", "activity"))
    assert row["diagnosis"] == "missing" and row["passed"] is False


def test_readme_object_form_runs_as_written(monkeypatch):
    """The README's five lines, with ``cs231n_nets`` standing in for the user's ``my_convnet``."""
    import re
    import sys
    from pathlib import Path

    from tests.gradcheck import cs231n_nets

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Checking your own gradients"):]
    block = re.search(r"```py\n(.*?)```", section, flags=re.S).group(1)
    assert len([line for line in block.splitlines() if line.strip()]) == 5
    monkeypatch.setitem(sys.modules, "my_convnet", cs231n_nets)
    namespace = {}
    exec(compile(block, "README.md (Checking your own gradients)", "exec"), namespace)
    report = namespace["report"]
    assert report.passed and report.terms == ["data", "weight", "activity", "total"]
    assert report.parameters == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
