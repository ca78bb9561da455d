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
import re
import time

import numpy as np

from handgrad.gradcheck.batch_probe import BatchScaling, doubled_batch, probe_term
from handgrad.gradcheck.diagnosis import diagnose_entries, float32_diagnosis
from handgrad.gradcheck.kinks import KINK_CAUSE
from handgrad.gradcheck.numerical import noise_floor, validate_options
from handgrad.gradcheck.report import Check, GradcheckReport
from handgrad.gradcheck.tabulate import sampled_rows
from handgrad.gradcheck.targets import UserCodeError, make_target

RESERVED = ("data", "total")
DETERMINISM_RTOL = 1e-12  # two evaluations at the same point differ by round-off at most (threaded BLAS sums)


class DoctorReport(GradcheckReport):
    """A ``GradcheckReport`` whose failing rows carry a diagnosis, plus the batch-scaling probe and notes.

    ``passed`` is True when every check and every probe passes (an *inconclusive* probe is not a failure),
    at the user's point and, when some parameters had all entries equal, at the second point
    ``randomized`` (a ``DoctorReport`` of its own, ``None`` when there was none). ``locations``: where the
    backward pass goes wrong, when the parameters in forward order switch from failing to passing.
    ``to_dict()`` is the JSON report: ``passed``, ``checks`` (``parameter, term, passed, max_rel_error,
    diagnosis, scale, message, kinks`` and more), ``batch_scaling`` (``term, ratio, verdict, message`` and
    more), ``notes``, ``locations`` and ``randomized`` (``names``, ``checks``, ``locations``).
    """

    def __init__(self, checks, tol, title, batch_scaling: list[BatchScaling], notes: list[str], batch: int,
                 elapsed: float, locations: list[str] = ()):
        super().__init__(checks, tol, title)
        self.batch_scaling = list(batch_scaling)
        self.notes = list(notes)
        self.batch = batch
        self.elapsed = elapsed
        self.locations = list(locations)
        self.randomized: DoctorReport | None = None
        self.randomized_names: list[str] = []

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and all(b.passed for b in self.batch_scaling) and \
            (self.randomized is None or self.randomized.passed)

    def probe_failures(self) -> list[BatchScaling]:
        return [b for b in self.batch_scaling if not b.passed]

    def inconclusive_probes(self) -> list[BatchScaling]:
        return [b for b in self.batch_scaling if b.verdict == "inconclusive"]

    def diagnosis(self, parameter: str, term: str) -> str | None:
        return self.get(parameter, term).diagnosis

    def all_failed_parameters(self) -> list[str]:
        """The parameters failing at the user's point or at the randomized one."""
        more = self.randomized.failed_parameters() if self.randomized is not None else []
        return list(dict.fromkeys(self.failed_parameters() + more))

    def kink_count(self) -> int:
        """Distinct (parameter, entry) pairs that sat on a kink and passed there."""
        return len({(c.parameter, i) for c in self.checks for i in c.kinks})

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["passed"] = self.passed
        out["batch_scaling"] = [dataclasses.asdict(b) for b in self.batch_scaling]
        out.update(notes=self.notes, locations=self.locations, kinks=self.kink_count(), batch=self.batch,
                   seconds=round(self.elapsed, 3))
        if self.randomized is not None:
            inner = self.randomized.to_dict()
            out["randomized"] = {"names": self.randomized_names, "passed": inner["passed"],
                                 "checks": inner["checks"], "locations": inner["locations"], "kinks": inner["kinks"]}
        return out

    def kink_lines(self) -> list[str]:
        """How many entries sat on kinks and why; a warning for parameters where most entries did."""
        count = self.kink_count()
        if not count:
            return []
        checked = {c.parameter: c.checked for c in self.checks}
        per = {}
        for c in self.checks:
            per.setdefault(c.parameter, set()).update(c.kinks)
        where = ", ".join(f"{p} {len(v)} of {checked[p]}" for p, v in per.items() if v)
        lines = [f"kinks: {count} checked entries sat on a kink ({where}): {KINK_CAUSE}, so the central "
                 f"difference straddles a point where the loss is not differentiable; each passed because your "
                 f"value lies between the one-sided derivatives"]
        most = [p for p, v in per.items() if len(v) > checked[p] / 2]
        if most:
            lines.append(f"kinks: most checked entries of {', '.join(most)} sit on kinks, so the check of "
                         f"{'it' if len(most) == 1 else 'them'} is weak (a wrong value between the one-sided "
                         f"derivatives passes too): check again with a larger weight scale (e.g. weight_scale=1e-2) "
                         f"or another seed")
        return lines

    def _body(self) -> list[str]:
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
                scale = f", k = {c.scale:.4g}" if c.diagnosis in ("scaled", "sign", "partial") else ""
                lines.append(f"  {c.parameter} [{c.term}] {c.diagnosis}{scale}: {c.message}")
                lines.extend(self.worst_lines(c, indent="      "))
        else:
            lines.append(self.pass_line())
        lines.extend(f"where: {line}" for line in self.locations)
        lines.extend(self.kink_lines())
        return lines

    def __str__(self) -> str:
        lines = self._body()
        if self.randomized is not None:
            verdict = "passes" if self.randomized.passed else "FAILS"
            lines.append("")
            lines.append(f"{', '.join(self.randomized_names)}: every entry equal at your point (gamma = 1, beta = 0 "
                         f"and zero biases hide whole classes of bugs); the check again with them random "
                         f"({verdict}; your arrays are unchanged):")
            lines.extend(self.randomized._body())
            lines.append("")
        if self.batch_scaling:
            lines.append("batch scaling (each term on the batch and on the same batch given twice):")
            for b in self.batch_scaling:
                ratio = "ratio    n/a" if b.ratio is None else f"ratio {b.ratio:.4f}"
                mark = {"inconclusive": "inconclusive"}.get(b.verdict, "ok" if b.passed else "FAIL")
                lines.append(f"  {b.term.ljust(10)} {ratio}  {mark}: {b.message}")
        lines.extend(f"note: {n}" for n in self.notes)
        bad_probes = self.probe_failures()
        failures = self.failures() + (self.randomized.failures() if self.randomized is not None else [])
        total = len(self.checks) + (len(self.randomized.checks) if self.randomized is not None else 0)
        points = " at both points" if self.randomized is not None else ""
        unsure = [b.term for b in self.inconclusive_probes()]
        if self.passed and unsure:
            lines.append(f"PASS: every check{points}; the batch-scaling probe is inconclusive for "
                         f"{', '.join(unsure)} (see above) ({self.elapsed:.2f} s)")
        elif self.passed:
            lines.append(f"PASS: every check{points} and the batch-scaling probe ({self.elapsed:.2f} s)")
        else:
            lines.append(f"FAIL: {len(failures)} of {total} checks{points} and {len(bad_probes)} of "
                         f"{len(self.batch_scaling)} batch-scaling probes failed ({self.elapsed:.2f} s)")
        return "\n".join(lines)


def diagnose(target, x, y, terms: dict | None = None, *, params: dict | None = None,
             coefficients: dict | None = None, samples: int = 10, eps: float = 1e-6, tol: float = 1e-6,
             seed: int = 0, probe: bool = True, randomize=None, order=None, verbose: bool = True) -> DoctorReport:
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
        report = _run(user, x, y, terms, samples, eps, tol, seed, probe, randomize, order, start)
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


def _run(user, x, y, terms, samples, eps, tol, seed, probe, randomize, order, start) -> DoctorReport:
    on = user.on_values()
    for term, name in terms.items():
        value = on[name]
        ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and np.isfinite(value)
        if not ok or value == 0:
            raise ValueError(f"terms: the {term} coefficient {name!r} is {value!r}; the term vanishes and cannot "
                             f"be checked: give it a non-zero value (e.g. 1e-3)")
    order = _validated_order(order, user.names)
    # settings[0] is the data term alone (every coefficient 0), then each penalty alone
    if terms:
        off = {name: 0.0 for name in terms.values()}
        settings = [off, *({**off, name: on[name]} for name in terms.values())]
    else:
        settings = [None]  # the user's code as it is: the total only
    labels = ["data", *terms, "total"] if terms else ["total"]
    randomized_names = _randomized_names(user, randomize)

    first = user.evaluate(x, y, settings[0], want_grads=False)[0]
    again = user.evaluate(x, y, settings[0], want_grads=False)[0]
    if abs(again - first) > DETERMINISM_RTOL * max(1.0, abs(first)):
        raise UserCodeError(f"{user.function_name} is not deterministic: two evaluations at the same parameters "
                            f"gave {first!r} and {again!r} (dropout or random sampling during the loss? fix its "
                            f"seed or turn it off for the check)")
    point = _Point(user, x, y, settings, labels, on, eps, tol)
    rows, term_values = point.check(samples, seed)
    batch = x.shape[0]
    scaling = []
    if probe:
        x2, y2 = doubled_batch(x, y)
        doubled = [user.evaluate(x2, y2, c, want_grads=False)[0] for c in settings]
        doubled_terms = [doubled[0]] + [v - doubled[0] for v in doubled[1:]]
        backwards = [user.evaluate(x[::-1], y[::-1], c, want_grads=False)[0] for c in settings]
        backwards_terms = [backwards[0]] + [v - backwards[0] for v in backwards[1:]]
        probed = labels[:-1] if terms else labels
        scaling = [probe_term(label, v, d, batch, r)
                   for label, v, d, r in zip(probed, term_values, doubled_terms, backwards_terms)]

    second = None
    if randomized_names:
        saved = {k: user.base[k].copy() for k in randomized_names}
        rng = np.random.default_rng([seed, 20])
        scale = _zero_scale(user, randomized_names)
        try:
            for k in randomized_names:
                user.base[k][...] = _random_like(user.base[k], rng, scale)
            rows2, _ = point.check(samples, seed)
        finally:
            for k in randomized_names:
                user.base[k][...] = saved[k]
        second = _diagnosed(rows2, batch, False, order)

    notes, float32 = _notes(user, eps)
    checks, locations = _diagnosed(rows, batch, float32, order)
    title = f"diagnose {user.function_name}: batch of {batch}, float64"
    report = DoctorReport(checks, tol, title, scaling, notes, batch, time.perf_counter() - start,
                          locations=locations)
    if second is not None:
        report.randomized = DoctorReport(second[0], tol, title + ", " + _randomized_title(randomized_names), [], [],
                                         batch, 0.0, locations=second[1])
        report.randomized_names = list(randomized_names)
    report.elapsed = time.perf_counter() - start
    return report


@dataclasses.dataclass
class _Row:
    """One (parameter, term) before diagnosis: its check, the entries to fit a diagnosis on, and whether the
    term has a gradient for this parameter at all (else the row says nothing about where a fault is)."""

    check: Check
    analytic: np.ndarray
    numerical: np.ndarray
    informative: bool


class _Point:
    """Checks every (parameter, term) at ``user.base`` as it is now (the user's point or a randomized one)."""

    def __init__(self, user, x, y, settings, labels, on, eps, tol):
        self.user, self.x, self.y, self.settings, self.labels = user, x, y, settings, labels
        self.on, self.eps, self.tol = on, eps, tol

    def evaluate(self):
        v = np.array([self.user.evaluate(self.x, self.y, c, want_grads=False)[0] for c in self.settings])
        return np.concatenate([v[:1], v[1:] - v[0]])  # data, then each penalty alone (or the total alone)

    def check(self, samples, seed) -> tuple[list[_Row], list[float]]:
        user, x, y, eps, tol, labels = self.user, self.x, self.y, self.eps, self.tol, self.labels
        terms = len(self.settings) > 1 or labels[0] != "total"
        evaluated = [user.evaluate(x, y, c) for c in self.settings]
        values = [loss for loss, _ in evaluated]
        analytic = {labels[0]: evaluated[0][1]}
        term_values = [values[0]]
        for j, term in enumerate(labels[1:-1], start=1):
            analytic[term] = {k: evaluated[j][1][k] - evaluated[0][1][k] for k in user.names}
            term_values.append(values[j] - values[0])
        floors = [noise_floor(values[0], eps)] + [noise_floor(max(abs(values[0]), abs(v)), eps) for v in values[1:]]
        if terms:
            analytic["total"] = user.evaluate(x, y, dict(self.on))[1]
            floors.append(noise_floor(sum(abs(v) for v in values), eps))
        arrays = {name: user.base[name] for name in user.names}
        sampled = sampled_rows(arrays, analytic, labels, self.evaluate, floors, samples=samples, eps=eps, tol=tol,
                               rng=np.random.default_rng(seed), total=terms, center=self.evaluate())
        rows = []
        for row in sampled:
            smooth = ~row.kink_seen if (~row.kink_seen).any() else np.ones(len(row.kink_seen), bool)
            informative = bool(np.max(np.abs(row.numerical)) > row.check.atol)
            rows.append(_Row(row.check, row.analytic[smooth], row.numerical[smooth], informative))
        return rows, term_values


def _diagnosed(rows, batch, float32, order) -> tuple[list[Check], list[str]]:
    """Each failing row diagnosed (``diagnosis.py``); a failing total explained by its failing terms; and where
    the parameters in forward ``order`` switch from failing to passing, one line per term saying so."""
    failing_terms = {}  # parameter -> its failing penalty/data rows: they explain a failing total
    for row in rows:
        if not row.check.passed and row.check.term != "total":
            failing_terms.setdefault(row.check.parameter, []).append(row.check.term)
    checks = []
    for row in rows:
        check = row.check
        if not check.passed:
            d = float32_diagnosis(check.parameter, check.term) if float32 else \
                diagnose_entries(check.parameter, check.term, row.analytic, row.numerical, batch)
            message = d.message
            if check.term == "total" and check.parameter in failing_terms and not float32:
                message = (f"the total fails because its {' and '.join(failing_terms[check.parameter])} term "
                           f"does (see above)")
            check = dataclasses.replace(check, diagnosis=d.kind, scale=d.scale, message=message)
        checks.append(check)
    return checks, ([] if float32 else locate(rows, order))


def locate(rows, order) -> list[str]:
    """Where the backward pass goes wrong, per term: with the parameters in forward ``order``, every
    informative row above some point passes and every one below fails."""
    lines = []
    terms = list(dict.fromkeys(r.check.term for r in rows))
    for term in terms:
        if term == "total" and len(terms) > 1:  # the total is explained by its terms
            continue
        by_name = {r.check.parameter: r for r in rows if r.check.term == term and r.informative}
        seq = [(n, by_name[n].check.passed) for n in order if n in by_name]
        passed = [ok for _, ok in seq]
        if True not in passed or False not in passed:
            continue
        split = passed.index(True)
        if split == 0 or False in passed[split:]:
            continue
        upper, lower = seq[split][0], seq[split - 1][0]
        if _layer(lower) != _layer(upper):  # name the lower layer by its first parameter (W1 for b1)
            lower = next(n for n in order if _layer(n) == _layer(lower))
        what = "" if term in ("data", "total") else f" of the {term} term"
        lines.append(f"the backward pass{what} goes wrong between {upper} and {lower}: every parameter from {upper} "
                     f"up passes, every one below fails; look at a layer without parameters there (pooling, "
                     f"activation, normalization, dropout) or the input gradient (dx) of {upper}'s layer")
    return lines


def _layer(name: str) -> str:
    """CS231n names a layer's parameters with its number: W2, b2, gamma2, beta2 -> "2"."""
    match = re.search(r"(\d+)$", name)
    return match.group(1) if match else name


def _validated_order(order, names) -> list[str]:
    if order is None:
        return list(names)
    order = list(order)
    unknown = [n for n in order if n not in names]
    if unknown or len(set(order)) != len(order):
        raise ValueError(f"diagnose: order must list parameter names (in forward order), each once; unknown "
                         f"{unknown}, parameters {list(names)}")
    return order + [n for n in names if n not in order]


def _randomized_names(user, randomize) -> list[str]:
    """The parameters replaced by random values at the second point: ``randomize=None``/``True``: every one
    whose entries are all equal (gamma = 1, beta = 0, zero biases); ``False``: none; a list: those."""
    if randomize is None or randomize is True:
        return [k for k in user.names if user.base[k].size > 1 and np.all(user.base[k] == user.base[k].flat[0])]
    if randomize is False:
        return []
    if isinstance(randomize, str) or not all(isinstance(n, str) for n in randomize):
        raise TypeError(f"diagnose: randomize must be True, False or a list of parameter names, got {randomize!r}")
    unknown = [n for n in randomize if n not in user.names]
    if unknown:
        raise ValueError(f"diagnose: randomize names unknown parameters {unknown}; the parameters are "
                         f"{list(user.names)}")
    return list(dict.fromkeys(randomize))


def _zero_scale(user, names) -> float:
    """The scale of random values replacing zeros: the RMS of the parameters not randomized (the weights)."""
    rest = [user.base[k].ravel() for k in user.names if k not in names]
    values = np.concatenate(rest) if rest else np.zeros(0)
    rms = float(np.sqrt(np.mean(values ** 2))) if values.size else 0.0
    return rms if rms > 0 else 0.1


def _random_like(array, rng, zero_scale) -> np.ndarray:
    """Random values of a similar scale: ``c * U(0.5, 1.5)`` for entries ``c != 0`` (gamma = 1 -> 0.5..1.5),
    ``N(0, zero_scale**2)`` for zeros; the mean of an array that is not constant is kept."""
    c = float(np.mean(array))
    if np.all(array == 0):
        return zero_scale * rng.standard_normal(array.shape)
    if np.all(array == array.flat[0]):
        return c * rng.uniform(0.5, 1.5, array.shape)
    return array + float(np.std(array)) * rng.standard_normal(array.shape)


def _randomized_title(names) -> str:
    return f"at a second point: {', '.join(names)} (all entries equal) replaced by random values of a similar scale"


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
    if user.float32_params and not notes:
        notes.append(f"float32: {user.function_name}'s parameters are float32 ({', '.join(user.float32_params)}; "
                     f"CS231n's default dtype=np.float32); the check ran on float64 copies, as finite differences "
                     f"need, so it proves the math of your gradients; training in float32 adds a relative error of "
                     f"~6e-8 per operation that the check does not see (pass dtype=np.float64 to check exactly what "
                     f"you run)")
    if user.wrote_into:
        notes.append(f"{user.function_name} wrote into its inputs ({', '.join(sorted(user.wrote_into))}): handgrad "
                     f"gives it fresh copies at every call, so the check is unaffected, but code that changes its "
                     f"inputs will change your parameters during training")
    return notes, looks_float32 or "loss" in returned
