"""``_repr_html_`` of the layers doctor's report (``check_layers``): well-formed HTML, one row per layer with
its forward and backward verdicts, failing rows and cells marked, each failure's output, diagnosis and
message in the wrapped text below the table; errors and notes shown; the text form unchanged."""
import numpy as np

from handgrad.gradcheck import check_layers
from tests.display.html_tools import classes, find_all, html_errors, parse, text_of
from tests.gradcheck.planted_bugs import CORRECT, planted

FAST = ["affine", "relu", "max_pool", "dropout", "softmax_loss"]  # no conv: the slowest to check


def assert_renders(report):
    """Well-formed; one row per layer, marked as the report says; every failure listed with its diagnosis."""
    html = report._repr_html_()
    assert html_errors(html) == []
    root = parse(html)
    rows = {tr.get("data-layer"): tr for tr in find_all(root, "tr", "hg-row")}
    assert list(rows) == [r.layer for r in report.layers]  # every layer, in the report's order
    for r in report.layers:
        tr = rows[r.layer]
        assert ("hg-failing" in classes(tr)) == (not r.passed), r.layer
        assert r.functions in text_of(tr)
        verdicts = {td.get("data-output"): td for td in tr.iter("td") if td.get("data-output")}
        assert set(verdicts) == {"forward", "backward"}
        for output, td in verdicts.items():
            assert ("hg-fail" in classes(td)) == (getattr(r, output) is False), (r.layer, output)
            assert ("hg-ok" in classes(td)) == (getattr(r, output) is True), (r.layer, output)
    listed = [li for li in find_all(root, "li") if li.get("data-diagnosis")]
    expected = {(r.layer, f.output, f.diagnosis) for r in report.layers for f in r.failures}
    assert {(li.get("data-layer"), li.get("data-output"), li.get("data-diagnosis")) for li in listed} == expected
    for r in report.layers:
        for f in r.failures:
            (li,) = [li for li in listed if (li.get("data-layer"), li.get("data-output"), li.get("data-diagnosis"))
                     == (r.layer, f.output, f.diagnosis)]
            assert "hg-fail" in classes(li) and f.message in text_of(li) and f.case in text_of(li)
    (verdict,) = find_all(root, "div", "hg-verdict")
    assert ("hg-fail" in classes(verdict)) == (not report.passed)
    assert "white-space: normal" in text_of(root.find("style"))  # the wrapped text cells (no scrolling)
    return root


def test_the_correct_file_renders_every_layer_as_ok():
    report = check_layers(CORRECT, verbose=False, only=FAST)
    assert report.passed
    root = assert_renders(report)
    assert "PASS: all 5 layers pass" in text_of(find_all(root, "div", "hg-verdict")[0])
    assert find_all(root, "ul", "hg-diagnoses") == []
    notes = [p for p in find_all(root, "p", "hg-note") if p.get("data-layer") == "dropout"]
    assert notes and "probability of keeping" in text_of(notes[0])


def test_max_pool_assigning_marks_exactly_its_rows_and_says_to_accumulate(tmp_path):
    report = check_layers(planted("max_pool_assign", tmp_path), verbose=False, only=FAST + ["max_pool_fast"])
    assert report.failed_layers() == ["max_pool", "max_pool_fast"]
    root = assert_renders(report)
    failing = [tr.get("data-layer") for tr in find_all(root, "tr", "hg-failing")]
    assert failing == ["max_pool", "max_pool_fast"]
    (li,) = [li for li in find_all(root, "li") if li.get("data-layer") == "max_pool"]
    assert li.get("data-output") == "dx" and li.get("data-diagnosis") == "overlap"
    assert "+=" in text_of(li) and "overlapping" in text_of(li)
    assert "FAIL: 2 of 6 layers: max_pool, max_pool_fast" in text_of(find_all(root, "div", "hg-verdict")[0])


def test_a_failing_forward_marks_the_forward_cell(tmp_path):
    report = check_layers(planted("dropout_scaled_by_p", tmp_path), verbose=False, only=["dropout"])
    root = assert_renders(report)
    cells = {td.get("data-output"): td for td in find_all(root, "td", "hg-verdict-cell")}
    assert "hg-fail" in classes(cells["forward"]) and "hg-ok" in classes(cells["backward"])


def test_a_layer_that_raises_shows_its_error_and_markup_stays_text(tmp_path):
    source = CORRECT.read_text().replace("def relu_forward(x):", "def relu_forward(x):\n    raise ValueError('<b>&')",
                                         1)
    path = tmp_path / "layers.py"
    path.write_text(source)
    report = check_layers(path, verbose=False, only=["relu", "affine"])
    assert report.failed_layers() == ["relu"] and report.get("relu").error
    root = assert_renders(report)
    (li,) = [li for li in find_all(root, "li") if li.get("data-output") == "error"]
    assert li.get("data-layer") == "relu" and "hg-fail" in classes(li) and "<b>&" in text_of(li)
    assert [tr.get("data-status") for tr in find_all(root, "tr", "hg-row")] == ["ok", "error"]
    assert np.all([td.get("data-status") != "fail" for td in find_all(root, "td", "hg-verdict-cell")
                   if td.get("data-layer") == "affine"])


def test_the_text_form_is_unchanged(tmp_path):
    report = check_layers(planted("max_pool_assign", tmp_path), verbose=False, only=["max_pool"])
    text = str(report)
    assert "\n  dx [overlap] in 2 cases: x (2, 3, 5, 7), 3x3 windows, stride 2 (overlapping); x (3, 2, 4, 5), " \
        "2x3 windows, stride 1 (overlapping): dx is wrong only at inputs" in text
    assert text.endswith("FAILED: max_pool") and "<" not in text
