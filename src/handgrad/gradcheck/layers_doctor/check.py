"""``check_layers``: every layer of a user's CS231n-style ``layers.py``, case by case, forward and backward.

For each layer and each case of its battery (``cases.py``):

1. the forward is called on copies of the inputs (fresh parameter dicts each time); its output, and for
   batchnorm the running statistics it leaves in ``bn_param``, are compared with handgrad's proven layer
   (``oracles.py``);
2. the backward is called with a random ``dout`` and the forward's cache; each gradient is compared with
   central differences of ``sum(dout * forward(...))`` of the *user's own* forward in float64
   (``differences.py``): a backward consistent with a wrong forward passes here and the forward fails in 1;
3. each failure gets a diagnosis (``diagnoses.py``).

Dropout is checked by what it must do rather than entry by entry: the fraction of units kept (``p`` read as
the keep probability, CS231n's convention, or as the drop probability, PyTorch's; the note says which), the
``1 / keep`` scaling of the kept units, the identity in test mode, and the backward ``dout * out / x`` (the
user's own mask, as the forward applied it).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from handgrad.gradcheck import kinks
from handgrad.gradcheck.layers_doctor import diagnoses, oracles
from handgrad.gradcheck.layers_doctor.cases import Case, cases_for
from handgrad.gradcheck.layers_doctor.differences import gradient, settle_kinks
from handgrad.gradcheck.layers_doctor.discovery import LayerSpec, adapted, discover
from handgrad.gradcheck.layers_doctor.guard import call, load
from handgrad.gradcheck.layers_doctor.report import FORWARD_OUTPUTS, Failure, LayerResult, LayersReport
from handgrad.gradcheck.targets import UserCodeError


class _CaseFailed(Exception):
    """A case cannot go on (the user's function raised or returned the wrong structure)."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


def _forward(spec: LayerSpec, case: Case, arrays=None):
    """``(primary, second, extra)``: out and cache (or loss and dx) of the user's forward on copies, and the
    extra arguments it was given (batchnorm writes its running statistics into ``bn_param``)."""
    arrays = case.arrays if arrays is None else arrays
    extra = copy.deepcopy(case.extra)
    conv = spec.convention
    try:
        result = call(spec.forward, *(a.copy() for a in arrays.values()), *extra)
    except UserCodeError as e:
        diagnosis = "not_flattened" if conv.kind == "affine" and "multi_dim" in case.tags else "raised"
        message = str(e) + (": reshape x to (N, D) first (x.reshape(x.shape[0], -1))"
                            if diagnosis == "not_flattened" else "")
        raise _CaseFailed(Failure(case.name, conv.primary, diagnosis, message)) from e
    if not (isinstance(result, tuple) and len(result) == 2):
        what = "(loss, dx)" if conv.loss else "(out, cache)"
        raise _CaseFailed(Failure(case.name, conv.primary, "returns",
                                  f"{spec.forward.__name__} must return {what}, got {type(result).__name__}"))
    return result[0], result[1], extra


def _scalar(spec, case, dout):
    """``sum(dout * out)`` (or the loss) of the user's forward, for the finite differences."""
    def evaluate(arrays):
        primary = _forward(spec, case, arrays)[0]
        return float(primary) if spec.convention.loss else float(np.sum(dout * np.asarray(primary, np.float64)))
    return evaluate


def _grads(spec, dout, cache, case) -> dict:
    names = spec.convention.grads
    try:
        result = call(spec.backward, dout.copy(), cache)
    except UserCodeError as e:
        raise _CaseFailed(Failure(case.name, names[0], "raised", str(e))) from e
    result = result if isinstance(result, tuple) else (result,)
    if len(result) != len(names):
        raise _CaseFailed(Failure(case.name, names[0], "returns", f"{spec.backward.__name__} must return "
                                  f"{', '.join(names)}, got {len(result)} value(s)"))
    return dict(zip(names, result))


def _check_case(spec: LayerSpec, case: Case, rng, notes: list[str]) -> list[Failure]:
    kind = spec.convention.kind
    primary, second, extra = _forward(spec, case)
    failures = []
    want = oracles.expected(kind, case)
    got = {spec.convention.primary: primary}
    if "running_mean" in want:
        param = extra[0]
        got.update({k: param.get(k) for k in ("running_mean", "running_var")})
    for output, value in want.items():
        mine = got[output]
        if mine is None:
            failures.append(Failure(case.name, output, "missing", f"bn_param['{output}'] is not set by the forward "
                                                                  f"in train mode: store the updated statistic"))
        elif not diagnoses.close(mine, value):
            failures.append(Failure(case.name, output, *diagnoses.forward(kind, case, output, mine, value)))
    if not case.backward or (spec.backward is None and not spec.convention.loss):
        return failures
    dtype = np.asarray(primary).dtype
    if dtype in (np.float32, np.float16):
        failures.append(Failure(case.name, spec.convention.primary, "float32", f"{spec.convention.primary} is "
                                f"{dtype} for float64 inputs: compute in the input's dtype (e.g. np.zeros(shape, "
                                f"dtype=x.dtype)); finite differences cannot check a backward in {dtype}"))
        return failures
    if spec.convention.loss:
        dout, grads = np.ones(()), {"dx": second}
    else:
        shape = np.shape(primary)
        dout = rng.standard_normal(shape)
        grads = _grads(spec, dout, second, case)
    evaluate = _scalar(spec, case, dout)
    work = {k: v.copy() for k, v in case.arrays.items()}
    for name, mine in grads.items():
        array = work[name[1:]]
        if mine is None:
            failures.append(Failure(case.name, name, "missing", f"{name} is None: compute it and return it"))
            continue
        try:
            mine = np.asarray(mine, dtype=np.float64)
        except (TypeError, ValueError):
            failures.append(Failure(case.name, name, "returns", f"{name} must be an array of {name[1:]}'s shape "
                                    f"{array.shape}, got {type(mine).__name__}"))
            continue
        numerical = gradient(lambda: evaluate(work), array)
        if np.shape(mine) != numerical.shape and np.size(mine) == numerical.size and name != "dx":
            mine = np.reshape(mine, numerical.shape)  # dgamma (C,) for a gamma (1, C, 1, 1): accepted
        if diagnoses.close(mine, numerical):
            continue
        if mine.shape == numerical.shape and np.isfinite(mine).all():
            numerical, kinked = settle_kinks(lambda: evaluate(work), array, mine, numerical)
            if kinked:
                notes.append(f"{name}: {kinked} entries in case '{case.name}' sit on a kink of your forward "
                             f"({kinks.KINK_CAUSE}); accepted within the one-sided derivatives")
            if diagnoses.close(mine, numerical):
                continue
        failures.append(Failure(case.name, name, *diagnoses.backward(kind, case, name, mine, numerical, dout)))
    return failures


# ------------------------------------------------------------------------------------------ dropout
KEEP_TOL = 0.01  # |kept fraction - expected|: 10 standard deviations at 200,000 units


def _dropout(spec: LayerSpec, cases: list[Case], result: LayerResult, rng) -> None:
    stats, test, small = cases
    p = stats.extra[0]["p"]
    x = stats.arrays["x"]
    keep = None
    try:
        out = np.asarray(_forward(spec, stats)[0], np.float64)
        kept = out != 0
        rate = float(kept.mean())
        if abs(rate - p) <= KEEP_TOL:
            keep = p
            result.notes.append(f"p is the probability of keeping a unit (CS231n's convention): kept {rate:.3f} "
                                f"at p = {p}")
        elif abs(rate - (1 - p)) <= KEEP_TOL:
            keep = 1 - p
            result.notes.append(f"p is the probability of dropping a unit (PyTorch's convention): kept {rate:.3f} "
                                f"at p = {p}")
        else:
            result.failures.append(Failure(stats.name, "out", "keep_rate", f"kept {rate:.3f} of the units at p = "
                                           f"{p}: expected {p} (p = keep probability) or {1 - p} (p = drop "
                                           f"probability); draw the mask as rand(*x.shape) < p"))
        if keep is not None:
            scale = out[kept] / x[kept]
            if not np.allclose(scale, 1 / keep, rtol=1e-6):
                value = float(np.median(scale))
                if np.isclose(value, keep, rtol=1e-6):
                    result.failures.append(Failure(stats.name, "out", "scaled_by_p", f"the kept units are "
                                                   f"multiplied by {value:.3g}, the keep probability: divide by it "
                                                   f"instead (inverted dropout: out = x * mask / p)"))
                elif np.isclose(value, 1.0, rtol=1e-6):
                    result.failures.append(Failure(stats.name, "out", "not_inverted", "the kept units are not "
                                                   "scaled: divide them by the keep probability at train time "
                                                   "(inverted dropout), so that test mode is the identity"))
                else:
                    result.failures.append(Failure(stats.name, "out", "wrong", f"the kept units are multiplied by "
                                                   f"{value:.4g}, expected 1/{keep:g} = {1 / keep:.4g}"))
    except _CaseFailed as e:
        result.failures.append(e.failure)
    try:
        out = np.asarray(_forward(spec, test)[0], np.float64)
        if not (out.shape == test.arrays["x"].shape and np.array_equal(out, test.arrays["x"])):
            result.failures.append(Failure(test.name, "out", "test_not_identity", "test mode must return x "
                                           "unchanged (inverted dropout scales at train time only)"))
    except _CaseFailed as e:
        result.failures.append(e.failure)
    try:
        out, cache, _ = _forward(spec, small)
        dout = rng.standard_normal(np.shape(out))
        dx = _grads(spec, dout, cache, small)["dx"]
        x = small.arrays["x"]
        expected = dout * np.asarray(out, np.float64) / x  # the user's own mask and scale, as applied
        if not diagnoses.close(dx, expected):
            if diagnoses.close(dx, dout):
                result.failures.append(Failure(small.name, "dx", "mask_missing", "dx = dout: the mask is missing; "
                                               "multiply dout by the mask saved in the cache (with its 1/p)"))
            else:
                result.failures.append(Failure(small.name, "dx", *diagnoses.classify(
                    "dx", dx, expected, x.shape[0], "dout times your forward's mask and scale")))
    except _CaseFailed as e:
        result.failures.append(e.failure)


# ------------------------------------------------------------------------------------------ driver
def check_spec(spec: LayerSpec, seed: int = 0) -> LayerResult:
    back = getattr(spec.backward, "__name__", None)
    functions = spec.forward.__name__ + (f" / {back}" if back else "")
    result = LayerResult(spec.name, functions)
    kind = spec.convention.kind
    cases = cases_for(kind, seed)
    result.cases = len(cases)
    result.backward_checked = spec.backward is not None or spec.convention.loss
    if not result.backward_checked:
        result.notes.append(f"no {spec.forward.__name__.replace('_forward', '_backward')} found: forward only")
    rng = np.random.default_rng(seed + 1)
    if kind == "dropout":
        _dropout(spec, cases, result, rng)
    else:
        for case in cases:
            try:
                result.failures.extend(_check_case(spec, case, rng, result.notes))
            except _CaseFailed as e:
                result.failures.append(e.failure)
    if result.failures and all(f.diagnosis in ("raised", "returns") for f in result.failures) and \
            len(result.failures) >= len(cases):
        result.error = result.failures[0].message  # nothing could be checked: one line says why
        if any(f.output in FORWARD_OUTPUTS for f in result.failures):
            result.forward_checked = False
        result.backward_checked = False  # a forward that raises leaves no backward to check either
        result.failures = []
    result.failures = diagnoses.across_cases(kind, result.failures, cases)
    return result


def check_layers(module_or_path=None, layers: dict | None = None, verbose: bool = True, *, only=None,
                 seed: int = 0) -> LayersReport:
    """Check every CS231n-style layer of ``module_or_path`` (a module, a dict of functions or a path to a
    ``.py`` file) plus the adapted ``layers`` (``{"name": (forward, backward, "cs231n_<kind>")}``).

    ``only``: the layer names to check (e.g. ``["conv", "max_pool"]``). Returns a ``LayersReport`` (printed
    when ``verbose``); ``report.passed`` is False when any layer fails, has an error, or the file does not
    import (then one entry named ``"import"`` holds the error).
    """
    start = time.perf_counter()
    title = "check_layers"
    specs: list[LayerSpec] = []
    if module_or_path is not None:
        if isinstance(module_or_path, (str, Path)):
            title = f"check_layers({module_or_path})"
            try:
                module_or_path = load(module_or_path)
            except UserCodeError as e:
                report = LayersReport([LayerResult("import", error=str(e), forward_checked=False,
                                                   backward_checked=False)], title)
                if verbose:
                    print(report)
                return report
        specs = discover(module_or_path)
    if layers:
        named = adapted(layers)
        specs = [s for s in specs if s.name not in {n.name for n in named}] + named
    if only is not None:
        unknown = sorted(set(only) - {s.name for s in specs})
        if unknown:
            raise ValueError(f"check_layers: no layer named {', '.join(unknown)}; found: "
                             f"{', '.join(s.name for s in specs) or 'none'}")
        specs = [s for s in specs if s.name in set(only)]
    if not specs:
        raise ValueError("check_layers: no layer functions found (CS231n's names: affine_forward/affine_backward, "
                         "conv_forward_naive/conv_backward_naive, ..., softmax_loss, svm_loss); pass others with "
                         "layers={'name': (forward, backward, 'cs231n_<kind>')}")
    report = LayersReport([check_spec(spec, seed) for spec in specs], title)
    report.seconds = time.perf_counter() - start
    if verbose:
        print(report)
    return report
