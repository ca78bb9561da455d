"""Each notebook of ``notebooks/`` run top to bottom in a real Jupyter kernel (nbclient + ipykernel) on tiny
Fashion-MNIST files, its outputs checked: the doctor's verdicts, the reports' HTML, the figures."""
import base64
import os
import re
import struct

import nbformat
import pytest

from tests.display.html_tools import classes, find_all, html_errors, parse, text_of
from tests.notebooks.execute import NOTEBOOKS, execute

NAMES = ("activity-regularization", "gradient-checks", "handgrad-tour")


@pytest.fixture(scope="module")
def run(notebook_data, tmp_path_factory):
    """``run(name)``: the executed notebook (each executed once per module)."""
    done = {}

    def get(name):
        if name not in done:
            cwd = tmp_path_factory.mktemp(name)
            # one BLAS thread: the kernel shares the cores with pytest and other work
            env = {**os.environ, "HANDGRAD_DATA": str(notebook_data), "OPENBLAS_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            done[name] = execute(NOTEBOOKS / f"{name}.ipynb", cwd, env=env)[0]
        return done[name]

    return get


def cell(nb, tag):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"one cell tagged {tag!r} expected, found {len(found)}"
    return found[0]


def stdout(c) -> str:
    return "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def outputs(c, mime) -> list:
    return [o.data[mime] for o in c.outputs if o.output_type in ("execute_result", "display_data") and mime in o.data]


def html_report(c):
    (html,) = outputs(c, "text/html")
    assert html_errors(html) == []
    return parse(html)


def check_cells(root):
    return {(td.get("data-parameter"), td.get("data-term")): td for td in find_all(root, "td", "hg-check")}


def png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def assert_figure(c, min_width=400):
    pngs = outputs(c, "image/png")
    assert pngs, f"no figure in cell {c.metadata.get('tags')}"
    for data in pngs:
        width, height = png_size(data)
        assert width >= min_width and height >= 150, (width, height)


# ------------------------------------------------------------------ every notebook
@pytest.mark.parametrize("name", NAMES)
def test_the_tracked_notebook_has_its_outputs_stripped(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{name}: outputs committed in {c.id}"
    install = cell(nb, "install")
    assert "%pip install" in install.source and nb.cells.index(install) <= 1  # Colab: the first code cell


# ------------------------------------------------------------------ activity-regularization.ipynb
def test_activity_notebook_the_doctor_finds_the_typical_mistake(run):
    nb = run("activity-regularization")
    c = cell(nb, "doctor-mistake")
    out = stdout(c)
    for name in ("b1", "b2"):
        assert f"{name} [activity]: missing" in out
    assert "W1 [activity]: wrong" in out
    assert "[data]" not in out and "[weight]" not in out
    assert "batch scaling [activity]: summed over the batch = True" in out
    root = html_report(c)
    cells = check_cells(root)
    for name in ("b1", "b2", "W1"):
        assert "hg-fail" in classes(cells[(name, "activity")])
    assert "hg-ok" in classes(cells[("W4", "data")])
    assert find_all(root, "div", "hg-verdict")[0].get("data-verdict") == "fail"


def test_activity_notebook_fix_one_passes_the_gradients_and_still_fails_the_probe(run):
    c = cell(run("activity-regularization"), "fix-flow")
    out = stdout(c)
    assert "gradient checks failing: []" in out
    assert "batch scaling [activity]: summed over the batch = True" in out
    probes = {tr.get("data-term"): tr for tr in find_all(html_report(c), "tr", "hg-probe")}
    assert probes["activity"].get("data-status") == "fail" and probes["data"].get("data-status") == "ok"


def test_activity_notebook_fix_two_passes_the_doctor(run):
    c = cell(run("activity-regularization"), "fix-mean")
    assert "doctor passed: True" in stdout(c)
    root = html_report(c)
    assert find_all(root, "div", "hg-verdict")[0].get("data-verdict") == "pass"
    assert not find_all(root, "td", "hg-fail")


def test_activity_notebook_trains_and_plots(run):
    nb = run("activity-regularization")
    out = stdout(cell(nb, "train"))
    assert "act_reg=0 epoch 2" in out and "act_reg=1e-05 epoch 2" in out
    assert_figure(cell(nb, "curves"))
    c = cell(nb, "activations")
    assert_figure(c)
    lines = [line for line in stdout(c).splitlines() if "mean |a1|" in line]
    assert len(lines) == 2 and lines[0].startswith("no activity penalty")
    # the penalty pulls the penalized conv outputs towards zero
    (a1_off, a2_off), (a1_on, a2_on) = [map(float, re.findall(r"mean \|a\d\| = ([0-9.]+)", line)) for line in lines]
    assert a1_on < a1_off and a2_on < a2_off, lines
    accuracies = [float(line.rsplit(" ", 1)[1].rstrip("%")) for line in out.splitlines() if "epoch 2" in line]
    assert len(accuracies) == 2 and min(accuracies) > 50, out


# ------------------------------------------------------------------ gradient-checks.ipynb
LAYERS = ["affine", "relu", "max_pool", "softmax_loss"]


def layer_rows(root):
    return {tr.get("data-layer"): tr for tr in find_all(root, "tr", "hg-row")}


def test_gradient_checks_notebook_the_layers_doctor_passes_the_correct_file(run):
    c = cell(run("gradient-checks"), "layers-correct")
    out = stdout(c)
    assert "layers passed: True" in out
    for layer in LAYERS:
        assert f"{layer}: forward True, backward " in out
    assert "max_pool: forward True, backward True, 3 cases" in out
    root = html_report(c)
    rows = layer_rows(root)
    assert list(rows) == LAYERS and not find_all(root, "tr", "hg-failing")
    assert find_all(root, "div", "hg-verdict")[0].get("data-verdict") == "pass"


def test_gradient_checks_notebook_the_layers_doctor_finds_the_max_pool_assignment(run):
    nb = run("gradient-checks")
    c = cell(nb, "layers-bug")
    out = stdout(c)
    assert "layers passed: False" in out
    flagged = [line for line in out.splitlines() if "[" in line]
    assert len(flagged) == 2 and all(line.startswith("max_pool dx [overlap] in case ") for line in flagged), out
    assert all("(overlapping)" in line for line in flagged)  # not the 2x2, stride 2 case the course checks
    root = html_report(c)
    rows = layer_rows(root)
    assert [layer for layer, tr in rows.items() if "hg-failing" in classes(tr)] == ["max_pool"]
    diagnoses = [li for li in find_all(root, "li") if li.get("data-diagnosis")]
    assert {(li.get("data-layer"), li.get("data-output"), li.get("data-diagnosis")) for li in diagnoses} == \
        {("max_pool", "dx", "overlap")}
    assert "accumulate with dx[window] += ..." in text_of(diagnoses[0])
    text = stdout(cell(nb, "layers-text"))
    assert "  dx [overlap] in 2 cases:" in text and text.rstrip().endswith("FAILED: max_pool")


def test_gradient_checks_notebook_passes_the_correct_file(run):
    c = cell(run("gradient-checks"), "doctor-correct")
    assert "doctor passed: True" in stdout(c)
    root = html_report(c)
    assert set(check_cells(root)) == {(p, t) for p in ("W1", "b1", "W2", "b2", "W3", "b3")
                                      for t in ("data", "weight", "total")}
    assert not find_all(root, "td", "hg-fail")


def test_gradient_checks_notebook_locates_the_relu_bug(run):
    nb = run("gradient-checks")
    c = cell(nb, "doctor-bug")
    out = stdout(c)
    assert "failing in the data term: ['W1', 'b1', 'W2', 'b2']" in out
    assert "failing in the weight term: []" in out
    cells = check_cells(html_report(c))
    for p in ("W1", "b1", "W2", "b2"):
        assert "hg-fail" in classes(cells[(p, "data")]) and cells[(p, "data")].get("data-status") == "fail"
    for p in ("W3", "b3"):
        assert "hg-ok" in classes(cells[(p, "data")])
    text = stdout(cell(nb, "text-form"))
    assert "W2 [data] wrong" in text and "FAIL: 8 of 18 checks" in text


def test_gradient_checks_notebook_names_the_factor_two_on_the_penalty(run):
    c = cell(run("gradient-checks"), "doctor-reg")
    out = stdout(c)
    for p in ("W1", "W2", "W3"):
        assert f"{p} [weight]: scaled, k = 2" in out
    diagnoses = [li for li in find_all(html_report(c), "li") if li.get("data-term") == "weight"]
    assert {li.get("data-parameter") for li in diagnoses} == {"W1", "W2", "W3"}
    assert all("scaled, k = 2" in text_of(li) for li in diagnoses)


# ------------------------------------------------------------------ handgrad-tour.ipynb
def test_tour_notebook_shows_the_reports_and_the_model_as_html(run):
    nb = run("handgrad-tour")
    for tag, line in (("layer", "layer check passed: True"), ("loss", "model check passed: True")):
        c = cell(nb, tag)
        assert line in stdout(c)
        assert find_all(html_report(c), "div", "hg-verdict")[0].get("data-verdict") == "pass"
    root = html_report(cell(nb, "model"))
    layers = [text_of(tr.find("th")) for tr in find_all(root, "tr", "hg-layer")]
    assert layers[0] == "conv2d (Conv2D)" and len(layers) == 9
    assert "Total params: 857,738" in text_of(root)


def test_tour_notebook_trains_with_a_progress_widget_and_shows_its_history(run):
    c = cell(run("handgrad-tour"), "train")
    widgets = outputs(c, "application/vnd.jupyter.widget-view+json")
    assert len(widgets) == 2  # one bar per epoch (a widget in Jupyter), not a wall of text lines
    assert len(stdout(c).splitlines()) <= 6  # the per-epoch summary lines
    root = html_report(c)
    assert [tr.get("data-epoch") for tr in find_all(root, "tr", "hg-epoch")] == ["1", "2"]
    (img,) = list(root.iter("img"))
    assert img.get("src").startswith("data:image/png;base64,")
    assert png_size(img.get("src").split(",", 1)[1])[0] >= 400


def test_tour_notebook_plots_inline_and_saves(run):
    nb = run("handgrad-tour")
    assert "saved runs-tour/first/losses.png" in stdout(cell(nb, "figures"))
    assert_figure(cell(nb, "figures"), min_width=1000)  # four panels
    assert_figure(cell(nb, "activations"))


def test_tour_notebook_resumes_exactly_and_tunes(run):
    nb = run("handgrad-tour")
    out = stdout(cell(nb, "resume"))
    assert "restored at epoch 2" in out
    assert "resumed run identical to the uninterrupted one: True" in out
    tune = cell(nb, "tune")
    assert "handgrad tune exited with 0" in stdout(tune)
    assert outputs(tune, "application/vnd.jupyter.widget-view+json")  # the study's bar is a widget too
    assert stdout(tune).count("COMPLETE") == 3  # one table row per trial of the grid
    c = cell(nb, "tune-report")
    assert "activity_l2" in stdout(c)
    assert_figure(c, min_width=300)


def test_tour_notebook_evaluates(run):
    out = stdout(cell(run("handgrad-tour"), "evaluate"))
    assert out.startswith("test accuracy ")
    accuracy = float(out.split()[2].rstrip("%,")) / 100
    assert accuracy > 0.5  # the test's images are separable by class: two epochs learn them (chance: 10 %)
