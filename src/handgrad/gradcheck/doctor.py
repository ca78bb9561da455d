"""The gradient doctor: check a user's gradient term by term, say how it is wrong, probe the batch scaling.

``diagnose(target, x, y, terms={"weight": "reg", "activity": "act_reg"})`` takes the user's code as it is:

- a function ``f(params, x, y, **coefficients) -> (loss, grads)`` with ``params=`` (coefficient values from
  the function's keyword defaults or ``coefficients=``), or
- an object with ``.params`` (name -> array) and ``.loss(X, y) -> (loss, grads)`` whose coefficients are
  attributes (CS231n's model interface).

**Term isolation.** With ``c`` the user's coefficients, ``L(c)`` and ``g(c)`` the loss and gradients:

    data term      L(0),                   g(0)
    penalty t      L(c_t only) - L(0),     g(c_t only) - g(0)
    total          L(c),                   g(c)

Each (parameter, term) is checked against central differences of the same quantity (the total's numerical
derivative is the sum of the terms'). One set of evaluations per perturbed entry serves every term.

**Diagnosis** of each failing pair: ``missing``, ``scaled`` (with k), ``sign`` or ``wrong`` (see
``diagnosis.py``). **Batch-scaling probe**: each term on the batch and on the batch given twice (see
``batch_probe.py``); runs without ``terms`` too (then on the total).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from handgrad.gradcheck.batch_probe import BatchScaling, doubled_batch, probe_term
from handgrad.gradcheck.diagnosis import diagnose_entries, float32_diagnosis
from handgrad.gradcheck.numerical import central_differences, noise_floor, sample_indices, validate_options
from handgrad.gradcheck.report import Check, GradcheckReport
from handgrad.gradcheck.targets import UserCodeError, make_target

RESERVED = ("data", "total")
DETERMINISM_RTOL = 1e-12  # two evaluations at the same point differ by round-off at most (threaded BLAS sums)


class DoctorReport(GradcheckReport):
    """A ``GradcheckReport`` whose failing rows carry a diagnosis, plus the batch-scaling probe and notes.

    ``passed`` is True when every check and every probe passes. ``to_dict()`` is the JSON report:
    ``passed``, ``checks`` (``parameter, term, passed, max_rel_error, diagnosis, scale, message`` and more),
    ``batch_scaling`` (``term, ratio, summed_over_batch, message`` and more) and ``notes``.
    """

    def __init__(self, checks, tol, title, batch_scaling: list[BatchScaling], notes: list[str], batch: int,
                 elapsed: float):
        super().__init__(checks, tol, title)
        self.batch_scaling = list(batch_scaling)
        self.notes = list(notes)
        self.batch = batch
        self.elapsed = elapsed

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and all(b.passed for b in self.batch_scaling)

    def probe_failures(self) -> list[BatchScaling]:
        return [b for b in self.batch_scaling if not b.passed]

    def diagnosis(self, parameter: str, term: str) -> str | None:
        return self.get(parameter, term).diagnosis

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["passed"] = self.passed
        out["batch_scaling"] = [dataclasses.asdict(b) for b in self.batch_scaling]
        out.update(notes=self.notes, batch=self.batch, seconds=round(self.elapsed, 3))
        return out

    def __str__(self) -> str:
        lines = self.table_lines()
        failures = self.failures()
        if failures and all(c.diagnosis == "float32" for c in failures):
            lines.append(f"FAIL: {len(failures)} of {len(self.checks)} checks: the loss is computed in float32, "
                         f"finite differences cannot check it (see the note below)")
        elif failures:
            names = ", ".join(f"{c.parameter} ({c.term})" for c in failures)
            lines.append(f"FAIL: {len(failures)} of {len(self.checks)} checks: {names}")
            lines.append("diagnosis of each failure, with its worst entries (index: analytic vs numerical, "
                         "relative error):")
            for c in failures:
                if c.message.startswith("the total fails because"):
                    lines.append(f"  {c.parameter} [{c.term}]: {c.message}")
                    continue
                scale = f", k = {c.scale:.4g}" if c.diagnosis in ("scaled", "sign") else ""
                lines.append(f"  {c.parameter} [{c.term}] {c.diagnosis}{scale}: {c.message}")
                lines.extend(self.worst_lines(c, indent="      "))
        else:
            lines.append(self.pass_line())
        if self.batch_scaling:
            lines.append("batch scaling (each term on the batch and on the same batch given twice):")
            for b in self.batch_scaling:
                ratio = "ratio    n/a" if b.ratio is None else f"ratio {b.ratio:.4f}"
                lines.append(f"  {b.term.ljust(10)} {ratio}  {'ok' if b.passed else 'FAIL'}: {b.message}")
        lines.extend(f"note: {n}" for n in self.notes)
        bad_probes = self.probe_failures()
        if self.passed:
            lines.append(f"PASS: every check and the batch-scaling probe ({self.elapsed:.2f} s)")
        else:
            lines.append(f"FAIL: {len(failures)} of {len(self.checks)} checks and {len(bad_probes)} of "
                         f"{len(self.batch_scaling)} batch-scaling probes failed ({self.elapsed:.2f} s)")
        return "\n".join(lines)


def diagnose(target, x, y, terms: dict | None = None, *, params: dict | None = None,
             coefficients: dict | None = None, samples: int = 10, eps: float = 1e-6, tol: float = 1e-6,
             seed: int = 0, probe: bool = True, verbose: bool = True) -> DoctorReport:
    """Check a user's gradients term by term against central differences in float64; diagnose failures.

    Args:
        target: ``f(params, x, y, **coefficients) -> (loss, grads)`` (give ``params``), or an object with
            ``.params`` and ``.loss(X, y) -> (loss, grads)`` whose coefficients are attributes.
        x, y: a small batch (``N = len(x)`` examples) and its labels; float64 copies are passed to the code.
        terms: ``term name -> coefficient name``, e.g. ``{"weight": "reg", "activity": "act_reg"}``; each
            coefficient is set to 0 to isolate the terms (``None``: check the total only).
        params: the function form's parameters (name -> array); never modified.
        coefficients: the function form's coefficient values (default: the function's keyword defaults).
        samples: random entries per parameter (plus the largest analytic entry of each term; all entries
            of smaller parameters). eps: finite-difference step. tol: maximum relative error. seed: seeds
            the entries. probe: run the batch-scaling probe. verbose: print the report.

    Returns: a ``DoctorReport`` (rows: parameter x ``data``, each term, ``total``; failing rows diagnosed).

    Raises: ``ValueError``/``TypeError`` for bad arguments; ``UserCodeError`` (one line naming the user's
    function; the user's exception is its ``__cause__``) when the user's code raises, returns the wrong
    types, or is not deterministic. The user's parameters, arrays and coefficients are left exactly as
    they were, also on error.
    """
    validate_options(eps, tol, samples, where="diagnose")
    terms = _validated_terms(terms)
    x = np.array(x, dtype=np.float64)
    y = np.array(y, copy=True)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"diagnose: x must hold a batch of at least one example, got shape {x.shape}")
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"diagnose: y must have one label per example of x ({x.shape[0]}), got shape {y.shape}")
    user = make_target(target, params, tuple(terms.values()), coefficients)
    start = time.perf_counter()
    try:
        report = _run(user, x, y, terms, samples, eps, tol, seed, probe, start)
    finally:
        user.restore()
    if verbose:
        print(report)
    return report


def _validated_terms(terms) -> dict[str, str]:
    if terms is None:
        return {}
    if not isinstance(terms, dict):
        raise TypeError(f"diagnose: terms must be a dict term -> coefficient name, got {type(terms).__name__}")
    for term, name in terms.items():
        if not (isinstance(term, str) and term and isinstance(name, str) and name):
            raise TypeError(f"diagnose: terms must map term names to coefficient names (strings), got {term!r}: "
                            f"{name!r}")
        if term in RESERVED:
            raise ValueError(f"diagnose: term name {term!r} is reserved (the data term and the total are always "
                             f"checked); name the penalty, e.g. 'weight' or 'activity'")
    names = list(terms.values())
    if len(set(names)) != len(names):
        raise ValueError(f"diagnose: each term needs its own coefficient, got {terms}")
    return dict(terms)


def _run(user, x, y, terms, samples, eps, tol, seed, probe, start) -> DoctorReport:
    on = user.on_values()
    for term, name in terms.items():
        value = on[name]
        ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and np.isfinite(value)
        if not ok or value == 0:
            raise ValueError(f"terms: the {term} coefficient {name!r} is {value!r}; the term vanishes and cannot "
                             f"be checked: give it a non-zero value (e.g. 1e-3)")
    # settings[0] is the data term alone (every coefficient 0), then each penalty alone
    if terms:
        off = {name: 0.0 for name in terms.values()}
        settings = [off, *({**off, name: on[name]} for name in terms.values())]
    else:
        settings = [None]  # the user's code as it is: the total only
    labels = ["data", *terms] if terms else ["total"]

    evaluated = [user.evaluate(x, y, c) for c in settings]
    again = user.evaluate(x, y, settings[0], want_grads=False)[0]
    first = evaluated[0][0]
    if abs(again - first) > DETERMINISM_RTOL * max(1.0, abs(first)):
        raise UserCodeError(f"{user.function_name} is not deterministic: two evaluations at the same parameters "
                            f"gave {first!r} and {again!r} (dropout or random sampling during the loss? fix its "
                            f"seed or turn it off for the check)")
    values = [loss for loss, _ in evaluated]
    analytic = {"data" if terms else "total": evaluated[0][1]}
    term_values = [values[0]]
    for j, term in enumerate(terms, start=1):
        analytic[term] = {k: evaluated[j][1][k] - evaluated[0][1][k] for k in user.names}
        term_values.append(values[j] - values[0])
    floors = [noise_floor(values[0], eps)] + [noise_floor(max(abs(values[0]), abs(v)), eps) for v in values[1:]]
    if terms:
        total_loss, analytic["total"] = user.evaluate(x, y, dict(on))
        labels.append("total")
        floors.append(noise_floor(sum(abs(v) for v in values), eps))

    def evaluate():
        v = np.array([user.evaluate(x, y, c, want_grads=False)[0] for c in settings])
        return np.concatenate([v[:1], v[1:] - v[0]])  # data, then each penalty alone

    rng = np.random.default_rng(seed)
    checks = []
    for name in user.names:
        array = user.base[name]
        largest = [int(np.argmax(np.abs(analytic[t][name]))) for t in labels]
        indices = sample_indices(array.shape, samples, rng, must_include=largest)
        numerical = central_differences(evaluate, array, indices, eps)  # (len(indices), len(settings))
        if terms:
            numerical = np.column_stack([numerical, numerical.sum(axis=1)])  # + total
        for j, term in enumerate(labels):
            a = np.array([analytic[term][name][i] for i in indices])
            checks.append((Check.from_samples(name, term, indices, a, numerical[:, j], tol, floors[j]),
                           a, numerical[:, j]))

    scaling = []
    batch = x.shape[0]
    if probe:
        x2, y2 = doubled_batch(x, y)
        doubled = [user.evaluate(x2, y2, c, want_grads=False)[0] for c in settings]
        doubled_terms = [doubled[0]] + [v - doubled[0] for v in doubled[1:]]
        scaling = [probe_term(label, v, d, batch) for label, v, d in zip(labels, term_values, doubled_terms)]

    notes, float32 = _notes(user, eps)
    failing_terms = {}  # parameter -> its failing penalty/data rows: they explain a failing total
    for check, _, _ in checks:
        if not check.passed and check.term != "total":
            failing_terms.setdefault(check.parameter, []).append(check.term)
    diagnosed = []
    for check, a, n in checks:
        if not check.passed:
            d = float32_diagnosis(check.parameter, check.term) if float32 else \
                diagnose_entries(check.parameter, check.term, a, n, batch)
            message = d.message
            if check.term == "total" and check.parameter in failing_terms and not float32:
                message = (f"the total fails because its {' and '.join(failing_terms[check.parameter])} term "
                           f"does (see above)")
            check = dataclasses.replace(check, diagnosis=d.kind, scale=d.scale, message=message)
        diagnosed.append(check)
    title = f"diagnose {user.function_name}: batch of {batch}, float64"
    return DoctorReport(diagnosed, tol, title, scaling, notes, batch, time.perf_counter() - start)


def _notes(user, eps) -> tuple[list[str], bool]:
    """What the user should know beyond the table (float32, in-place writes); True when the loss is float32."""
    notes = []
    values = [v for v in user.loss_values if v != 0.0]
    looks_float32 = len(set(values)) >= 3 and all(float(np.float32(v)) == v for v in values)
    returned = sorted(user.float32_returned)
    if looks_float32 or "loss" in returned:
        how = "returned as float32" if "loss" in returned else "every value it returned is a float32 number"
        notes.append(f"float32: the loss is computed in float32 ({how}); "
                     f"with eps = {eps:g} a central difference in float32 is round-off (float32 keeps about 7 "
                     f"digits), so the check cannot tell right from wrong: compute in float64 (cast the parameters "
                     f"and x with .astype(np.float64); a CS231n model: dtype=np.float64)")
    elif returned:
        notes.append(f"float32: {', '.join(returned)} returned in float32: their entries carry a relative error "
                     f"of ~6e-8 before any check; return float64")
    if user.wrote_into:
        notes.append(f"{user.function_name} wrote into its inputs ({', '.join(sorted(user.wrote_into))}): handgrad "
                     f"gives it fresh copies at every call, so the check is unaffected, but code that changes its "
                     f"inputs will change your parameters during training")
    return notes, looks_float32 or "loss" in returned
