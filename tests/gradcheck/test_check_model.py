import numpy as np
import pytest

import handgrad as hg
from handgrad.gradcheck import check_layer, check_model
from handgrad.models import reference_cnn


@pytest.fixture
def batch(rng):
    return rng.standard_normal((3, 1, 12, 12)), np.array([0, 4, 9])


@pytest.mark.parametrize("activity_on", ["pre", "post"])
@pytest.mark.parametrize("reg", [dict(weight_l2=1e-2, activity_l2=1e-2), dict(weight_l1=1e-2, activity_l1=1e-2),
                                 dict(weight_l1=1e-3, weight_l2=1e-2, activity_l1=1e-3, activity_l2=1e-2)])
def test_reference_network_passes_for_every_term(activity_on, reg, batch):
    model = reference_cnn(input_shape=(1, 12, 12), activity_on=activity_on, seed=2, **reg)
    report = check_model(model, *batch, verbose=False)
    assert report.passed, str(report)
    assert report.terms == ["data", "weight", "activity", "total"]
    assert report.parameters == list(model.parameters())
    assert report.get("conv2d.b", "activity").max_rel_error < 1e-6  # a real check, not a skipped one


def test_model_is_not_modified(batch):
    model = reference_cnn(input_shape=(1, 12, 12), activity_l2=1e-2)
    before = model.get_weights()
    check_model(model, *batch, verbose=False)
    assert model.dtype == np.float32
    for k, v in model.parameters().items():
        assert v.dtype == np.float32 and np.array_equal(v, before[k])


def test_a_broken_backward_is_caught_and_named(batch, monkeypatch):
    """Drop the bias gradient's activity part of the first conv: only that row may fail."""
    model = reference_cnn(input_shape=(1, 12, 12), activity_l2=1e-2, seed=2)
    conv = model.layer("conv2d")
    original = type(conv)._backward

    def broken(self, dy, input_grad):
        dx = original(self, dy, input_grad)
        self.grads["b"] = self.grads["b"] * 0.5  # a bug: half the bias gradient
        return dx

    monkeypatch.setattr(type(conv), "_backward", broken)
    report = check_model(model, *batch, verbose=False)
    assert not report.passed
    assert report.failed_parameters() == ["conv2d.b", "conv2d_1.b"]  # both convs share the patched class
    assert report.get("conv2d.b", "data").max_rel_error == pytest.approx(1 / 3, rel=1e-3)  # |a - a/2| / 1.5|a|


def test_report_table_names_failures_and_worst_entries(batch, monkeypatch, capsys):
    monkeypatch.setattr(hg.Dense, "add_weight_penalty_grads", lambda self: None)
    model = reference_cnn(input_shape=(1, 12, 12), weight_l2=1e-1, seed=2)
    report = check_model(model, *batch)
    out = capsys.readouterr().out
    assert out.strip() == str(report).strip()
    assert "dense.W" in out and "FAIL" in out and "worst entries" in out
    assert set(report.failed_parameters("weight")) == {"dense.W", "dense_1.W"}
    assert report.failed_parameters("data") == []


class ELUWithoutSlope(hg.ELU):
    def _backward(self, dy, input_grad):
        return dy  # slope 1 everywhere: wrong for x < 0


def test_check_layer_catches_a_wrong_input_gradient(rng):
    report = check_layer(ELUWithoutSlope(), rng.standard_normal((2, 3, 4)), verbose=False)
    assert report.failed_parameters() == ["x"]
