"""``_repr_html_`` of every report kind: well-formed HTML, one cell per check, failing cells and rows marked,
each failure's diagnosis in the text; the text form unchanged."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from handgrad.gradcheck import GradcheckReport, check_layer, compare, diagnose
from handgrad.layers import Dense
from tests.display.html_tools import classes, find_all, html_errors, parse, text_of
from tests.gradcheck.cs231n_nets import MLP, ConvNet

TERMS = {"weight": "reg", "activity": "act_reg"}
FAST = dict(samples=6, verbose=False)
ROOT = Path(__file__).resolve().parents[2]


def typical_mistake_module():
    spec = importlib.util.spec_from_file_location("typical_mistake", ROOT / "examples" / "typical_mistake.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch(seed, n=4, shape=(1, 8, 8), classes=10):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, size=n)


def cells(root):
    return {(td.get("data-parameter"), td.get("data-term")): td for td in find_all(root, "td", "hg-check")}


def assert_renders(report):
    """Well-formed; one cell per check with its status; cells, rows and diagnoses marked as the report says."""
    html = report._repr_html_()
    assert html_errors(html) == []
    root = parse(html)
    by_key = cells(root)
    assert set(by_key) == {(c.parameter, c.term) for c in report.checks}
    for c in report.checks:
        td = by_key[(c.parameter, c.term)]
        assert ("hg-fail" in classes(td)) == (not c.passed), (c, td.attrib)
        assert f"{c.max_rel_error:.1e}" in text_of(td)
    rows = {tr.get("data-parameter"): tr for tr in find_all(root, "tr", "hg-row") if tr.get("data-parameter")}
    assert set(rows) == set(report.parameters)
    for p, tr in rows.items():
        assert ("hg-failing" in classes(tr)) == (p in report.failed_parameters()), p
    diagnosed = {(li.get("data-parameter"), li.get("data-term")): li for li in find_all(root, "li")
                 if li.get("data-term")}
    for c in report.failures():
        li = diagnosed[(c.parameter, c.term)]
        assert "hg-fail" in classes(li)
        if c.message:
            assert c.message in text_of(li)
        if c.message.startswith("the total fails because"):  # explained by its term's row: no kind of its own
            assert f"{c.parameter} [total]: the total fails" in text_of(li)
        elif c.diagnosis:
            assert c.diagnosis in text_of(li)
    verdict = find_all(root, "div", "hg-verdict")
    assert len(verdict) == 1
    assert ("hg-fail" in classes(verdict[0])) == (not report.passed)
    return root


def test_a_passing_layer_check_renders_every_check_as_ok():
    layer = Dense(5)
    layer.build((7,), np.random.default_rng(0), np.float64)
    report = check_layer(layer, np.random.default_rng(1).standard_normal((3, 7)), verbose=False)
    assert report.passed
    root = assert_renders(report)
    assert all("hg-ok" in classes(td) for td in cells(root).values())
    assert "PASS" in text_of(find_all(root, "div", "hg-verdict")[0])


def test_a_failing_compare_marks_exactly_the_wrong_parameter():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}

    def loss_fn(p):
        return float(np.sum(np.tanh(p["W"]) * 2) + np.sum(p["b"] ** 2))

    grads = {"W": 2 * (1 - np.tanh(params["W"]) ** 2), "b": 3 * params["b"]}  # b's is wrong: 3b for b^2
    report = compare(loss_fn, params, grads, verbose=False)
    assert isinstance(report, GradcheckReport) and report.failed_parameters() == ["b"]
    root = assert_renders(report)
    assert "FAIL" in text_of(find_all(root, "div", "hg-verdict")[0])
    worst = text_of(find_all(root, "ul", "hg-diagnoses")[0])
    assert "b[" in worst and "analytic" in worst


def test_the_doctor_on_correct_code_renders_a_pass_with_its_probe():
    x, y = batch(0)
    report = diagnose(MLP(), x.reshape(4, -1)[:, :20], y % 5, TERMS, **FAST)
    assert report.passed
    root = assert_renders(report)
    probes = find_all(root, "tr", "hg-probe")
    assert [tr.get("data-term") for tr in probes] == [b.term for b in report.batch_scaling]
    assert all(tr.get("data-status") == "ok" for tr in probes)


def typical_mistake_report():
    """The doctor on ``examples/typical_mistake.py``'s typical mistake (each conv's own dW only) on a small
    network (the reference layout with 3 and 4 filters on 8x8 images)."""
    module = typical_mistake_module()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 1, 8, 8)), rng.integers(0, 10, 3)
    params = {"conv2d.W": 0.3 * rng.standard_normal((3, 1, 5, 5)), "conv2d.b": 0.1 * rng.standard_normal(3),
              "conv2d_1.W": 0.2 * rng.standard_normal((4, 3, 5, 5)), "conv2d_1.b": 0.1 * rng.standard_normal(4),
              "dense.W": 0.2 * rng.standard_normal((16, 6)), "dense.b": 0.1 * rng.standard_normal(6),
              "dense_1.W": 0.3 * rng.standard_normal((6, 10)), "dense_1.b": 0.1 * rng.standard_normal(10)}
    return diagnose(module.loss_and_grads, x, y, {"weight": "weight_l2", "activity": "activity_l2"},
                    params=params, **FAST)


def test_the_doctor_on_the_typical_mistake_names_missing_for_each_failing_row():
    report = typical_mistake_report()
    assert not report.passed and report.failed_parameters("activity")
    root = assert_renders(report)
    missing = [c for c in report.failures() if c.term == "activity" and c.diagnosis == "missing"]
    assert {c.parameter for c in missing} >= {"conv2d.b", "conv2d_1.b"}  # the biases get none of the penalty
    for c in missing:
        li = [li for li in find_all(root, "li") if li.get("data-parameter") == c.parameter
              and li.get("data-term") == "activity"][0]
        assert "missing" in text_of(li)


def test_the_batch_summed_penalty_marks_its_probe_row_failing():
    x, y = batch(0)
    report = diagnose(ConvNet(input_dim=(1, 8, 8), variant="batch_summed"), x, y, TERMS, **FAST)
    assert report.failures() == [] and not report.passed  # every gradient is right; only the probe fails
    root = assert_renders(report)
    probes = {tr.get("data-term"): tr for tr in find_all(root, "tr", "hg-probe")}
    assert "hg-failing" in classes(probes["activity"])
    assert "summed over the batch" in text_of(probes["activity"])
    assert "hg-fail" in classes(find_all(root, "div", "hg-verdict")[0])


def test_a_float32_model_shows_its_note():
    x, y = batch(0)
    report = diagnose(ConvNet(input_dim=(1, 8, 8), variant="float32"), x, y, TERMS, **FAST)
    root = assert_renders(report)
    notes = [text_of(p) for p in find_all(root, "p", "hg-note")]
    assert any("float32" in n for n in notes)


def test_text_and_markup_are_escaped():
    """A parameter named like markup stays text: the fragment is still well-formed and shows the name."""
    params = {"<W&b>": np.ones(3)}
    report = compare(lambda p: float(np.sum(p["<W&b>"] ** 2)), params, {"<W&b>": np.zeros(3)}, verbose=False)
    root = assert_renders(report)
    assert "<W&b>" in text_of(root)


@pytest.mark.parametrize("status, passed, expected", [("kink", True, "hg-warn"), ("ok", True, "hg-ok"),
                                                       ("fail", False, "hg-fail"), ("inconclusive", True, "hg-warn")])
def test_statuses_the_renderer_does_not_know_show_as_warnings(status, passed, expected):
    """A report with more statuses (a ``status`` field on its rows) renders them without code here knowing
    them: a passing row with any status but ok is a warning, listed with the diagnoses."""
    from dataclasses import dataclass

    @dataclass
    class Row:
        parameter: str
        term: str
        passed: bool
        max_rel_error: float
        status: str
        message: str = "what the status means"

    report = GradcheckReport([Row("W", "data", passed, 1e-3, status), Row("b", "data", True, 1e-9, "ok")], 1e-6)
    root = parse(report._repr_html_())
    assert expected in classes(cells(root)[("W", "data")])
    assert status in text_of(cells(root)[("W", "data")])
    listed = [li for li in find_all(root, "li") if li.get("data-parameter") == "W"]
    assert bool(listed) == (expected != "hg-ok")
