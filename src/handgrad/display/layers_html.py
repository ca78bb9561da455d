"""The HTML form of the layers doctor's report (``check_layers``' ``LayersReport``).

Written against the report's public fields: ``report.layers`` (rows with ``layer``, ``functions``, ``forward``,
``backward`` (True, False or None: not checked), ``passed``, ``cases``, ``error``, ``notes`` and
``grouped_failures()``: ``(output, diagnosis, message, cases)``), ``report.passed``, ``report.title``,
``report.seconds``.

Layout: the verdict; a compact table, one row per layer (``forward``, ``backward``, the number of cases, the
user's functions), failing rows ``hg-failing`` and failing verdict cells ``hg-fail`` (``data-layer``,
``data-status``, ``data-output`` name them); below it each failure as wrapped text (output, diagnosis, the
cases, what to fix), then errors and notes, so that nothing needs horizontal scrolling.
"""
from __future__ import annotations

from handgrad.display.markup import element, fragment, table, text

MARKS = {True: ("ok", "hg-ok"), False: ("FAIL", "hg-fail"), None: ("-", None)}


def _verdict_cell(r, output: str) -> str:
    word, cls = MARKS[getattr(r, output)]
    title = "not checked" if cls is None else None
    return element("td", word, class_=" ".join(filter(None, ["hg-verdict-cell", cls])), data_layer=r.layer,
                   data_output=output, data_status=word.lower() if cls else "unchecked", title=title)


def _rows(report) -> str:
    rows = []
    for r in report.layers:
        status = "ok" if r.passed else ("error" if r.error is not None else "fail")
        cls = "hg-row" if r.passed else "hg-row hg-failing"
        cells = (element("th", text(r.layer)) + _verdict_cell(r, "forward") + _verdict_cell(r, "backward") +
                 element("td", str(r.cases), class_="hg-num") + element("td", text(r.functions), class_="hg-text"))
        rows.append(element("tr", cells, class_=cls, data_layer=r.layer, data_status=status))
    return table(["layer", "forward", "backward", "cases", "functions"], rows)


def _diagnoses(report) -> str:
    items = []
    for r in report.layers:
        if r.error is not None:
            items.append(element("li", element("b", text(r.layer)) + " " + element("code", "error") + ": " +
                                 text(r.error), class_="hg-fail", data_layer=r.layer, data_output="error"))
        for output, diagnosis, message, cases in r.grouped_failures():
            body = (element("b", text(r.layer)) + " " + element("code", text(output)) + " " +
                    element("code", text(f"[{diagnosis}]")) + " in " + text(r.where(cases)) + ": " + text(message))
            items.append(element("li", body, class_="hg-fail", data_layer=r.layer, data_output=output,
                                 data_diagnosis=diagnosis))
    if not items:
        return ""
    return element("p", element("b", "Diagnosis") + " (output [diagnosis] in which cases: what to fix)") + \
        element("ul", "".join(items), class_="hg-diagnoses")


def layers_html(report) -> str:
    """The report as one well-formed HTML fragment (see the module docstring)."""
    layers = list(report.layers)
    failed = [r.layer for r in layers if not r.passed]
    if report.passed:
        summary = f"PASS: all {len(layers)} layers pass"
    elif not layers:
        summary = "FAIL: no layer found"
    else:
        summary = f"FAIL: {len(failed)} of {len(layers)} layers: {', '.join(failed)}"
    seconds = getattr(report, "seconds", 0.0) or 0.0
    title = report.title + (f" ({seconds:.1f} s)" if seconds else "") + \
        ": each layer's forward against handgrad's, its backward against central differences of its own forward"
    body = element("div", text(summary), class_=f"hg-verdict {'hg-ok' if report.passed else 'hg-fail'}",
                   data_verdict="pass" if report.passed else "fail")
    body += element("p", text(title), class_="hg-title")
    body += _rows(report) + _diagnoses(report)
    body += "".join(element("p", text(f"note: {r.layer}: {n}"), class_="hg-note", data_layer=r.layer)
                    for r in layers for n in r.notes)
    return fragment("layers-report", body)
