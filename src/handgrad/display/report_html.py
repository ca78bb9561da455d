"""The HTML form of a gradient check's report (``GradcheckReport``, the doctor's ``DoctorReport``).

Written against the report's public fields only, so that a report with more statuses or verdicts shows too:

- ``report.checks``: rows with ``parameter``, ``term``, ``passed``, ``max_rel_error`` and, where present,
  ``status``, ``on_floor``, ``diagnosis``, ``scale``, ``message``, ``worst`` (entries with ``index``,
  ``analytic``, ``numerical``, ``rel_error``);
- ``report.passed``, ``report.tol``, ``report.title`` and, where present, ``report.verdict``,
  ``report.batch_scaling`` (rows with ``term``, ``ratio``, ``passed``, ``message``) and ``report.notes``.

Layout: the verdict; a compact table, one row per parameter and one column per term, each cell the maximum
relative error and the check's status (cell and row classes ``hg-ok``, ``hg-warn``, ``hg-fail``; ``data-*``
attributes name the parameter, term and status); below it each failing check's diagnosis as wrapped text
with its worst entries, so that nothing needs horizontal scrolling.
"""
from __future__ import annotations

import math

from handgrad.display.markup import element, fragment, table, text

PASSING = ("ok", "ok*", "pass", "passed")


def check_status(check) -> str:
    """The check's own ``status`` where it has one; else ``ok``, ``ok*`` (passed on the noise floor) or
    ``fail``."""
    status = getattr(check, "status", None)
    if status:
        return str(status)
    if not check.passed:
        return "fail"
    return "ok*" if getattr(check, "on_floor", 0) else "ok"


def level(passed: bool, status: str) -> str:
    """The CSS class of a status: ``hg-fail`` for a failing check, ``hg-ok`` for a passing one, ``hg-warn``
    for a passing check whose status says more (e.g. a kink, inconclusive)."""
    if not passed:
        return "hg-fail"
    return "hg-ok" if status.lower() in PASSING else "hg-warn"


def verdict(report) -> str:
    value = getattr(report, "verdict", None)
    return str(value) if value else ("pass" if report.passed else "fail")


def _num(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.1e}"


def _cell(check) -> str:
    status = check_status(check)
    cls = level(check.passed, status)
    return element("td", f"{_num(check.max_rel_error)} {text(status)}",
                   class_=f"hg-num hg-check {cls}", data_parameter=check.parameter, data_term=check.term,
                   data_status=status, title=getattr(check, "message", None) or None)


def _matrix(report) -> str:
    terms = list(dict.fromkeys(c.term for c in report.checks))
    params = list(dict.fromkeys(c.parameter for c in report.checks))
    by_key = {(c.parameter, c.term): c for c in report.checks}
    rows = []
    for p in params:
        cells = [by_key.get((p, t)) for t in terms]
        present = [c for c in cells if c is not None]
        failing = any(not c.passed for c in present)
        warn = any(level(c.passed, check_status(c)) == "hg-warn" for c in present)
        cls = "hg-row hg-failing" if failing else ("hg-row hg-warning" if warn else "hg-row")
        tds = "".join(_cell(c) if c is not None else element("td", "") for c in cells)
        rows.append(element("tr", element("th", text(p)) + tds, class_=cls, data_parameter=p))
    return table(["parameter", *terms], rows)


def _diagnoses(report) -> str:
    items = []
    for c in report.checks:
        status = check_status(c)
        if c.passed and level(c.passed, status) != "hg-warn":
            continue
        head = f"{c.parameter} [{c.term}]"
        diagnosis = getattr(c, "diagnosis", None) or status
        scale = getattr(c, "scale", None)
        if scale is not None and diagnosis in ("scaled", "sign"):
            diagnosis = f"{diagnosis}, k = {scale:.4g}"
        message = getattr(c, "message", "") or ""
        explained = message.startswith("the total fails because")  # its terms' rows carry the diagnosis
        body = element("b", text(head)) + ("" if explained else " " + element("code", text(diagnosis)))
        if message:
            body += ": " + text(message)
        worst = getattr(c, "worst", None) or []
        if worst and not explained:
            body += element("ul", "".join(
                element("li", element("code", text(f"{c.parameter}{list(e.index)}: analytic {e.analytic:+.6e}, "
                                                   f"numerical {e.numerical:+.6e}, rel {e.rel_error:.1e}")))
                for e in worst))
        items.append(element("li", body, class_=level(c.passed, status), data_parameter=c.parameter,
                             data_term=c.term, data_status=status))
    if not items:
        return ""
    return element("p", element("b", "Diagnosis") + " (worst entries: analytic vs numerical, relative error)") + \
        element("ul", "".join(items), class_="hg-diagnoses")


def _probe(report) -> str:
    rows = []
    for b in getattr(report, "batch_scaling", None) or []:
        status = "ok" if b.passed else "fail"
        ratio = "n/a" if b.ratio is None else f"{b.ratio:.4f}"
        rows.append(element("tr", element("th", text(b.term)) + element("td", ratio, class_="hg-num") +
                            element("td", status, class_=level(b.passed, status)) +
                            element("td", text(b.message), class_="hg-text"),
                            class_="hg-probe " + ("hg-row" if b.passed else "hg-row hg-failing"),
                            data_term=b.term, data_status=status))
    if not rows:
        return ""
    return element("p", element("b", "Batch scaling") + " (each term on the batch and on the same batch given "
                   "twice)") + table(["term", "ratio", "status", "what it means"], rows)


def report_html(report) -> str:
    """The report as one well-formed HTML fragment (see the module docstring)."""
    checks = list(report.checks)
    failing = [c for c in checks if not c.passed]
    word = verdict(report)
    ok = report.passed
    probes = getattr(report, "batch_scaling", None) or []
    bad_probes = [b for b in probes if not b.passed]
    if ok:
        summary = f"{word.upper()}: {len(checks)} checks" + (f" and {len(probes)} batch-scaling probes" if probes
                                                             else "") + f", tolerance {report.tol:.0e}"
    else:
        summary = (f"{word.upper()}: {len(failing)} of {len(checks)} checks failed" +
                   (f", {len(bad_probes)} of {len(probes)} batch-scaling probes" if probes else "") +
                   f" (tolerance {report.tol:.0e})")
    cls = "hg-ok" if ok else "hg-fail"
    if ok and word.lower() not in PASSING:
        cls = "hg-warn"
    body = element("div", text(summary), class_=f"hg-verdict {cls}", data_verdict=word)
    body += element("p", text(f"{report.title}: max relative error |a - n| / max(1e-8, |a| + |n|)"),
                    class_="hg-title")
    body += _matrix(report)
    if any(check_status(c) == "ok*" for c in checks):
        body += element("p", "ok*: entries above the tolerance differ by less than the finite-difference noise "
                        "floor and pass", class_="hg-note")
    body += _diagnoses(report) + _probe(report)
    body += "".join(element("p", text(f"note: {n}"), class_="hg-note") for n in getattr(report, "notes", []) or [])
    return fragment("report", body)
