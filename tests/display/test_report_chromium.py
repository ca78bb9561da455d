"""The doctor's HTML report as a browser shows it: headless Chromium renders the report on the typical mistake
to a PNG, whose size, highlighted rows and width (no horizontal scrolling) are checked."""
import numpy as np
import pytest
from matplotlib.image import imread

from tests.display.chromium import find_chromium, png_size, screenshot
from tests.display.test_report_html import typical_mistake_report

WIDTH, HEIGHT = 900, 1150
FAIL_RGB = (0xFF, 0xD7, 0xD5)  # .hg-fail's background in display/markup.py
OK_RGB = (0xE6, 0xF7, 0xEA)  # .hg-ok's

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="headless Chromium is not installed (Debian's "
                                "package 'chromium'; make test installs it where it runs as root with apt-get)")


def pixels_like(rgb_image, rgb, tol=3):
    return np.all(np.abs(rgb_image[..., :3] * 255 - np.array(rgb)) <= tol, axis=-1)


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    report = typical_mistake_report()
    path = screenshot(report._repr_html_(), tmp_path_factory.mktemp("chromium") / "doctor-report.png", WIDTH,
                      HEIGHT)
    return report, path


def test_the_screenshot_is_a_png_of_the_window_size(shot):
    _, path = shot
    assert png_size(path) == (WIDTH, HEIGHT)
    assert path.stat().st_size > 30_000  # text, tables and colours; a blank page is about 3 kB


def test_failing_rows_are_highlighted_and_passing_ones_green(shot):
    report, path = shot
    image = imread(path)
    fail = pixels_like(image, FAIL_RGB)
    ok = pixels_like(image, OK_RGB)
    rows_with_fail = np.flatnonzero(fail.any(axis=1))
    # every failing cell and every diagnosis is a red band: several separate bands down the page
    bands = 1 + np.count_nonzero(np.diff(rows_with_fail) > 1)
    assert bands >= len(report.failures()), bands
    assert ok.sum() > 20 * 60 * 10  # dozens of passing cells


def test_nothing_is_wider_than_a_notebook_cell(shot):
    """The diagnoses wrap: right of 56em (+ the page margin) the page is white from top to bottom."""
    _, path = shot
    image = imread(path)
    right = image[:, 800:, :3]
    assert np.all(right > 0.98), "the report overflows 800 px"
