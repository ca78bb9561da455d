"""The layers doctor's HTML report as a browser shows it: headless Chromium renders the report on the max-pool
``=`` bug (long case names, a long diagnosis) to a PNG; the failing row and diagnosis are red, the passing rows
green, and nothing is wider than a notebook cell."""
import numpy as np
import pytest
from matplotlib.image import imread

from handgrad.gradcheck import check_layers
from tests.display.chromium import find_chromium, png_size, screenshot
from tests.display.test_report_chromium import FAIL_RGB, OK_RGB, pixels_like
from tests.gradcheck.planted_bugs import planted

WIDTH, HEIGHT = 900, 500

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="headless Chromium is not installed (Debian's "
                                "package 'chromium'; make test installs it where it runs as root with apt-get)")


def test_the_max_pool_bug_renders_red_and_green_within_a_notebook_cell(tmp_path):
    report = check_layers(planted("max_pool_assign", tmp_path), verbose=False, only=["affine", "relu", "max_pool"])
    assert report.failed_layers() == ["max_pool"]
    path = screenshot(report._repr_html_(), tmp_path / "layers-report.png", WIDTH, HEIGHT)
    assert png_size(path) == (WIDTH, HEIGHT)
    image = imread(path)
    fail_rows = np.flatnonzero(pixels_like(image, FAIL_RGB).any(axis=1))
    assert 1 + np.count_nonzero(np.diff(fail_rows) > 1) >= 3  # the verdict, the FAIL cell, the diagnosis
    assert pixels_like(image, OK_RGB).sum() > 5 * 20 * 10  # the passing cells
    assert np.all(image[:, 800:, :3] > 0.98), "the report overflows 800 px"
