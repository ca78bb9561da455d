"""Each notebook of ``notebooks/`` run top to bottom in a real Jupyter kernel (nbclient + ipykernel) on tiny
Fashion-MNIST files, its outputs checked: the doctor's verdicts, the reports' HTML, the figures."""
import base64
import json
import os
import struct
from pathlib import Path

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
                   "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
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
