"""Say *how* a failing gradient is wrong, from its sampled analytic and numerical entries.

Kinds, tried in this order on the sampled entries ``a`` (yours) and ``n`` (numerical) of one (parameter, term):

- ``missing``: ``|a|`` is negligible (``||a|| <= 1e-3 ||n||``) where the term has a gradient;
- ``sign``: ``a = -n`` with a small residual. ``k`` is the least-squares fit ``k = (a . n) / (n . n)``, its fit
  *clean* when ``||a - k n|| <= 1e-3 ||a||``;
- ``scaled``: a clean fit with ``k`` recognised as ``N`` (the batch size), ``1/N``, ``2`` or ``1/2`` (within 1e-3
  relative), or any clean ``k`` far from 1 (``|k - 1| > 0.1``);
- ``partial``: ``k`` near 1 (``|k - 1| <= 0.1``) with a residual of at most 0.5 ``||a||``, clean or not: most of
  the gradient is right and a part is missing or wrong (e.g. what a penalized layer above sends down, or one
  branch of the backward pass);
- ``wrong``: anything else (including a gradient where the term has none).

Each diagnosis comes with one sentence saying what to fix, worded for the term checked: the data loss, a
weight penalty (``reg * sum(W**2)``: a term whose name holds "weight"), an activity penalty (on a layer's
output: a name holding "act"), or any other penalty.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESIDUAL = 1e-3  # ||a - k n|| / ||a|| below this: a clean multiple (finite differences are good to ~1e-7)
MATCH = 1e-3  # relative distance of k from a recognised factor
NEAR = 0.1  # |k - 1| up to this: not a factor but a part of the gradient missing or wrong
PARTIAL = 0.5  # ... when the residual ||a - k n|| / ||a|| is at most this: most of it is right


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # "missing", "scaled", "partial", "sign", "wrong" (or "float32" when the loss is float32)
    scale: float | None  # k for "scaled", "partial" and "sign"
    message: str


def term_kind(term: str) -> str:
    """``"data"``, ``"total"``, ``"weight"``, ``"activity"`` or ``"penalty"`` (any other name)."""
    if term in ("data", "total"):
        return term
    lowered = term.lower()
    if "act" in lowered:
        return "activity"
    if "weight" in lowered or lowered in ("reg", "l2", "l1", "decay"):
        return "weight"
    return "penalty"


def _close(k: float, target: float) -> bool:
    return abs(k - target) <= MATCH * abs(target)


def _subject(term: str, parameter: str) -> str:
    return {"data": f"the data loss's gradient for {parameter}",
            "total": f"the gradient of the total loss for {parameter}"}.get(
        term, f"the {term} penalty's gradient for {parameter}")


def diagnose_entries(parameter: str, term: str, analytic, numerical, batch: int) -> Diagnosis:
    """The kind of mistake in one failing (parameter, term) from its sampled entries; ``batch`` is ``N``."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numerical, np.float64)
    na, nn = float(np.linalg.norm(a)), float(np.linalg.norm(n))
    what = _subject(term, parameter)
    kind = term_kind(term)
    if nn == 0.0 or na > 0 and nn <= RESIDUAL * na:
        return Diagnosis("wrong", None, f"{what} is non-zero but the loss does not change with {parameter} in "
                                        f"this term: yours adds something the loss does not have (a penalty's "
                                        f"gradient not multiplied by its coefficient stays when it is 0)")
    if na <= RESIDUAL * nn:
        return Diagnosis("missing", 0.0, f"{what} is missing: yours is zero where the numerical gradient is not "
                                         f"(it never reaches {parameter}); {_missing_fix(kind, parameter)}")
    k = float(a @ n / (n @ n))
    residual = float(np.linalg.norm(a - k * n)) / na
    clean = residual <= RESIDUAL
    if clean and _close(k, -1.0):
        return Diagnosis("sign", -1.0, f"{what} has the wrong sign: yours = -1 x numerical; gradient descent would "
                                       f"increase this term: flip the sign where it enters")
    if abs(k - 1.0) <= NEAR and residual <= PARTIAL:
        return Diagnosis("partial", k, f"{what} is partly wrong (best fit {k:.4g} x numerical"
                                       f"{'' if clean else ', with a residual'}): most of it is right; a part is "
                                       f"missing, {_partial_hint(kind, parameter)}")
    if clean and (_recognised(k, batch) or abs(k - 1.0) > NEAR):
        return Diagnosis("scaled", k, f"{what} is {_factor(k, batch, kind)}")
    return Diagnosis("wrong", None, f"{what} is wrong and not a multiple of the numerical one "
                                    f"(best fit {k:.3g} x, residual too large): {_wrong_hint(kind, parameter)}")


# What to fix, per term kind ("*": any other), with {parameter} the checked parameter's name.
_MISSING_FIX = {
    "activity": "add the penalty's gradient to the upstream gradient at the penalized layer's output and let the "
                "backward pass carry it down to {parameter} (adding it to that layer's dW alone stops it there)",
    "weight": "add the penalty's gradient (e.g. reg * {parameter} for 0.5 * reg * sum({parameter}**2)) to it",
    "data": "the backward pass must carry the data loss's gradient down to {parameter}",
    "*": "add the penalty's gradient where it enters and let the backward pass carry it down to {parameter}",
}
_PARTIAL_HINT = {
    "activity": "e.g. what a penalized layer above sends down: its penalty's gradient must join the upstream "
                "gradient there, not only that layer's dW, so that it reaches {parameter}",
    "weight": "e.g. the penalty of one of several weights sharing {parameter}'s gradient, or one term of it",
    "*": "e.g. one branch of the backward pass that does not reach {parameter} (a residual or skip connection, "
         "overlapping windows whose gradients must be summed)",
}


def _missing_fix(kind: str, parameter: str) -> str:
    return _MISSING_FIX.get(kind, _MISSING_FIX["*"]).format(parameter=parameter)


def _partial_hint(kind: str, parameter: str) -> str:
    return _PARTIAL_HINT.get(kind, _PARTIAL_HINT["*"]).format(parameter=parameter)


def _wrong_hint(kind: str, parameter: str) -> str:
    if kind == "activity":
        return ("part of it is missing or wrong (e.g. a penalty's gradient applied to one layer's weights but "
                "not passed on to the layers below)")
    if kind == "weight":
        return f"compare it with the derivative of the penalty's formula with respect to {parameter}"
    return f"check {parameter}'s backward step"


def _recognised(k: float, N: int) -> bool:
    return (N > 2 and (_close(k, N) or _close(k, 1 / N))) or _close(k, 2.0) or _close(k, 0.5)


def _factor(k: float, N: int, kind: str) -> str:
    thing = {"data": "loss", "total": "loss", "activity": "activity penalty", "weight": "weight penalty"}.get(
        kind, "penalty")
    if N > 2 and _close(k, N):
        return (f"N = {N} times too large: the gradient sums the {thing} over the batch while the loss averages "
                f"it; divide the gradient by N")
    if N > 2 and _close(k, 1 / N):
        return (f"1/N = 1/{N} times too small: the gradient averages the {thing} over the batch while the loss "
                f"sums it; use the same convention in both (a mean, as Keras does)")
    if _close(k, 2.0) or _close(k, 0.5):
        big = _close(k, 2.0)
        both = ""
        if N == 2:
            both = (" (or N = 2 times: the gradient sums over the batch while the loss averages)" if big else
                    " (or 1/N = 1/2: the gradient averages over the batch while the loss sums)")
        size = "2 times too large" if big else "1/2 times too small"
        if kind == "weight":
            how = ("the 0.5 * reg convention on one side only (the loss has 0.5 * reg * sum(W**2), whose gradient "
                   "is reg * W, not 2 * reg * W)" if big else
                   "the 0.5 * reg convention on one side only (the loss has reg * sum(W**2), whose gradient is "
                   "2 * reg * W, not reg * W)")
        elif kind == "activity":
            how = ("a factor 2 too many (the gradient of act_reg * sum(a**2) / N is 2 * act_reg * a / N; the "
                   "loss may use 0.5 * act_reg on one side only)" if big else
                   "a factor 2 missing (the gradient of act_reg * sum(a**2) / N is 2 * act_reg * a / N, not "
                   "act_reg * a / N)")
        else:
            how = f"a factor 2 {'too many' if big else 'missing'} in the {thing}'s gradient"
        return f"{size}: {how}{both}; use the same convention in the {thing} and its gradient"
    return f"{k:.4g} times the numerical one: a constant factor in this gradient is wrong"


def float32_diagnosis(parameter: str, term: str) -> Diagnosis:
    return Diagnosis("float32", None, f"{_subject(term, parameter)} cannot be checked: the loss is computed in "
                                      f"float32 (see the note below)")
