"""The result of a gradient check: one row per (parameter, term), printable as a table."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handgrad.gradcheck.numerical import relative_error


@dataclass(frozen=True)
class Entry:
    """One checked entry: its index, the analytic and numerical derivatives and their relative error."""

    index: tuple
    analytic: float
    numerical: float
    rel_error: float


@dataclass(frozen=True)
class Check:
    """All checked entries of one parameter for one loss term."""

    parameter: str
    term: str
    max_rel_error: float
    passed: bool
    checked: int
    atol: float  # the noise floor: an entry with |a - n| <= atol passes whatever its relative error
    on_floor: int  # entries above tol that passed only because |a - n| <= atol
    worst: list = field(default_factory=list)  # up to 3 Entry, largest relative error first
    diagnosis: str | None = None  # failing rows of ``diagnose``: "missing", "scaled", "sign", "wrong", "float32"
    scale: float | None = None  # k in "yours = k x numerical" ("scaled", "sign"; 0 for "missing")
    message: str = ""  # one sentence saying what to fix
    kinks: tuple = ()  # indices of entries that sat on a kink and passed there (``kinks.py``): shown as "kink"

    @classmethod
    def from_samples(cls, parameter, term, indices, analytic, numerical, tol, atol, keep=3, kinks=None):
        """Entry ``i`` passes when ``rel_error[i] <= tol`` or ``|analytic[i] - numerical[i]| <= atol``, or when
        ``kinks[i]`` (a boolean per entry: it sat on a kink and the analytic value lies between the one-sided
        derivatives). ``max_rel_error`` and ``worst`` are over the other entries (all of them when every
        entry is a kink)."""
        analytic, numerical = np.asarray(analytic, np.float64), np.asarray(numerical, np.float64)
        kinked = np.zeros(len(indices), bool) if kinks is None else np.asarray(kinks, bool)
        rel = relative_error(analytic, numerical)
        within_tol = rel <= tol
        within_floor = np.abs(analytic - numerical) <= atol
        shown = ~kinked if (~kinked).any() else np.ones_like(kinked)
        order = [i for i in np.argsort(-rel, kind="stable") if shown[i]][:keep]
        worst = [Entry(indices[i], float(analytic[i]), float(numerical[i]), float(rel[i])) for i in order]
        max_rel = float(rel[~kinked].max()) if (~kinked).any() else 0.0
        passed = bool(np.all(within_tol | within_floor | kinked))
        return cls(parameter, term, max_rel, passed, len(indices), float(atol),
                   int(np.sum(~within_tol & within_floor & ~kinked)), worst,
                   kinks=tuple(indices[i] for i in np.flatnonzero(kinked & ~within_tol & ~within_floor)))


class GradcheckReport:
    """Rows of ``Check``; ``passed`` is True when every row is.

    ``failed_parameters(term=None)`` names the parameters with a failing row (for one term or any);
    ``str(report)`` is the table ``parameter x term -> max relative error`` with the worst entries of each
    failure.
    """

    def __init__(self, checks: list[Check], tol: float, title: str = "Gradient check"):
        self.checks = list(checks)
        self.tol = tol
        self.title = title

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(c.term for c in self.checks))

    @property
    def parameters(self) -> list[str]:
        return list(dict.fromkeys(c.parameter for c in self.checks))

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def failed_parameters(self, term: str | None = None) -> list[str]:
        return list(dict.fromkeys(c.parameter for c in self.failures() if term is None or c.term == term))

    def get(self, parameter: str, term: str) -> Check:
        for c in self.checks:
            if c.parameter == parameter and c.term == term:
                return c
        raise KeyError(f"no check for parameter {parameter!r} and term {term!r}")

    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "tol": self.tol,
                "checks": [{"parameter": c.parameter, "term": c.term, "max_rel_error": c.max_rel_error,
                            "passed": c.passed, "checked": c.checked, "atol": c.atol, "on_floor": c.on_floor,
                            "diagnosis": c.diagnosis, "scale": c.scale, "message": c.message,
                            "kinks": [list(i) for i in c.kinks],
                            "worst": [e.__dict__ for e in c.worst]} for c in self.checks]}

    def table_lines(self) -> list[str]:
        """The title, the table ``parameter x term -> max relative error`` and the ok* legend."""
        terms, params = self.terms, self.parameters
        name_w = max([len("parameter"), *map(len, params)])
        cell_w = 15
        lines = [f"{self.title}: max relative error |a - n| / max(1e-8, |a| + |n|), tolerance {self.tol:.0e}",
                 "parameter".ljust(name_w) + "".join(t.rjust(cell_w) for t in terms)]
        by_key = {(c.parameter, c.term): c for c in self.checks}
        for p in params:
            cells = []
            for t in terms:
                c = by_key.get((p, t))
                if c is None:
                    cells.append("")
                    continue
                mark = "FAIL" if not c.passed else ("kink" if c.kinks else "ok*" if c.on_floor else "ok")
                cells.append(f"{c.max_rel_error:.1e} {mark.ljust(4)}")
            lines.append(p.ljust(name_w) + "".join(cell.rjust(cell_w) for cell in cells))
        if any(c.kinks for c in self.checks):
            lines.append("kink: entries whose central difference straddles a non-differentiable point pass when your "
                         "value lies between the one-sided derivatives (see below)")
        if any(c.on_floor for c in self.checks):
            lines.append("ok*: entries above the tolerance differ by less than the finite-difference noise floor "
                         "(1e-15 * max(1, |loss|) / eps) and pass")
        return lines

    def worst_lines(self, check: Check, indent: str = "  ") -> list[str]:
        return [f"{indent}{check.parameter}{list(e.index)} [{check.term}]: {e.analytic:+.6e} vs {e.numerical:+.6e}"
                f"  rel {e.rel_error:.1e}" for e in check.worst]

    def pass_line(self) -> str:
        """``PASS: 32 checks, all within 1e-06`` (or, with ok* rows, what ok* means for the verdict)."""
        if any(c.on_floor for c in self.checks):
            return (f"PASS: {len(self.checks)} checks, every entry within {self.tol:.0e} or (ok*) within the "
                    f"finite-difference noise floor")
        return f"PASS: {len(self.checks)} checks, all within {self.tol:.0e}"

    def __str__(self) -> str:
        lines = self.table_lines()
        failures = self.failures()
        if not failures:
            lines.append(self.pass_line())
            return "\n".join(lines)
        names = ", ".join(f"{c.parameter} ({c.term})" for c in failures)
        lines.append(f"FAIL: {len(failures)} of {len(self.checks)} checks: {names}")
        lines.append("worst entries (index: analytic vs numerical, relative error):")
        for c in failures:
            lines.extend(self.worst_lines(c))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from handgrad.display.report_html import report_html  # Jupyter's form; str() is the terminal's

        return report_html(self)

    def __repr__(self) -> str:
        return f"GradcheckReport(passed={self.passed}, checks={len(self.checks)}, failures={len(self.failures())})"
