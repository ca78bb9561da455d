"""Headless Chromium (Debian's ``chromium``) taking a screenshot of an HTML fragment, as a browser shows it.

``python -m tests.display.chromium OUT.png [EXECUTED.ipynb]`` writes the screenshot of the doctor's report on
the typical mistake: ``examples/typical_mistake.py``'s, or the first one of an executed
``activity-regularization.ipynb`` (README's picture, ``docs/figures/doctor-report.png``, comes from
``build/notebooks/activity-regularization.ipynb`` after ``make notebooks``).
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>handgrad report</title></head>
<body style="margin: 12px; background: white">{fragment}</body></html>
"""


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(fragment: str, out: Path, width: int = 1000, height: int = 1400) -> Path:
    """The page holding ``fragment`` rendered at ``width x height`` CSS pixels into the PNG ``out``."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH")
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="handgrad-chromium-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(PAGE.format(fragment=fragment), encoding="utf-8")
        # root in a container: no sandbox; a profile of its own so that parallel runs do not share one
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
               "--force-device-scale-factor=1", f"--screenshot={out}", page.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium exited {done.returncode} without {out}: {done.stderr[-2000:]}")
    return out


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (the signature is checked)."""
    data = Path(path).read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", data[16:24])


def typical_mistake_report():
    """The doctor's report on ``examples/typical_mistake.py``'s typical mistake (the activity penalty's
    gradient added to each conv's own dW only), on a small batch of random images."""
    from tests.display.test_report_html import typical_mistake_report as make

    return make()


def notebook_report_html(executed_notebook: Path, tag: str = "doctor-mistake") -> str:
    """The HTML output of the cell tagged ``tag`` of an executed notebook (``make notebooks`` writes them)."""
    import nbformat

    nb = nbformat.read(executed_notebook, as_version=4)
    (c,) = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    (html,) = [o.data["text/html"] for o in c.outputs if "text/html" in o.get("data", {})]
    return html


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/doctor-report.png")
    if len(sys.argv) > 2:  # README's picture: build/notebooks/activity-regularization.ipynb's first doctor report
        fragment = notebook_report_html(Path(sys.argv[2]))
    else:
        fragment = typical_mistake_report()._repr_html_()
    screenshot(fragment, target, width=900, height=1020)
    from PIL import Image  # matplotlib's dependency: 64 colours keep the README's picture small

    Image.open(target).convert("RGB").quantize(64).save(target, optimize=True)
    print(target, target.stat().st_size, "bytes")
