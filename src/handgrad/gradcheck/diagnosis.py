"""Say *how* a failing gradient is wrong, from its sampled analytic and numerical entries.

Kinds, tried in this order on the sampled entries ``a`` (yours) and ``n`` (numerical) of one (parameter, term):

- ``missing``: ``|a|`` is negligible (``||a|| <= 1e-3 ||n||``) where the term has a gradient;
- ``scaled``: ``a = k n`` with a small residual. ``k`` is the least-squares fit ``k = (a . n) / (n . n)``,
  accepted when ``||a - k n|| <= 1e-3 ||a||``; ``k`` is recognised as ``N`` (the batch size), ``1/N``, ``2``
  or ``1/2`` within 1e-3 relative;
- ``sign``: the same with ``k = -1``;
- ``wrong``: anything else (including a gradient where the term has none).

Each diagnosis comes with one sentence saying what to fix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESIDUAL = 1e-3  # ||a - k n|| / ||a|| below this: a clean multiple (finite differences are good to ~1e-7)
MATCH = 1e-3  # relative distance of k from a recognised factor


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # "missing", "scaled", "sign", "wrong" (or "float32" when the loss is computed in float32)
    scale: float | None  # k for "scaled" and "sign"
    message: str


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
    if nn == 0.0 or na > 0 and nn <= RESIDUAL * na:
        return Diagnosis("wrong", None, f"{what} is non-zero but the loss does not change with {parameter} in "
                                        f"this term: yours adds something the loss does not have (a penalty's "
                                        f"gradient not multiplied by its coefficient stays when it is 0)")
    if na <= RESIDUAL * nn:
        return Diagnosis("missing", 0.0, f"{what} is missing: yours is zero where the numerical gradient is not "
                                         f"(it never reaches {parameter}); add it to the upstream gradient where "
                                         f"the term enters and let the backward pass carry it down to {parameter}")
    k = float(a @ n / (n @ n))
    if np.linalg.norm(a - k * n) > RESIDUAL * na:
        hint = (" part of it is missing or wrong (e.g. a penalty's gradient applied to this layer's weights but "
                "not passed on to the layers below)" if term not in ("data", "total") else
                " check this parameter's backward step")
        return Diagnosis("wrong", None, f"{what} is wrong and not a multiple of the numerical one "
                                        f"(best fit {k:.3g} x, residual too large):{hint}")
    if _close(k, -1.0):
        return Diagnosis("sign", -1.0, f"{what} has the wrong sign: yours = -1 x numerical; gradient descent would "
                                       f"increase this term: flip the sign where it enters")
    return Diagnosis("scaled", k, f"{what} is {_factor(k, batch, term)}")


def _factor(k: float, N: int, term: str) -> str:
    thing = "loss" if term in ("data", "total") else "penalty"
    if N > 2 and _close(k, N):
        return (f"N = {N} times too large: the gradient sums the {thing} over the batch while the loss averages "
                f"it; divide the gradient by N")
    if N > 2 and _close(k, 1 / N):
        return (f"1/N = 1/{N} times too small: the gradient averages the {thing} over the batch while the loss "
                f"sums it; use the same convention in both (a mean, as Keras does)")
    if _close(k, 2.0):
        both = f" (or N = {N} times: the gradient sums over the batch while the loss averages)" if N == 2 else ""
        return (f"2 times too large: the 0.5 * reg convention on one side only (the loss has 0.5 * reg * sum(W**2), "
                f"whose gradient is reg * W, not 2 * reg * W){both}; use the same convention in loss and gradient")
    if _close(k, 0.5):
        both = f" (or 1/N = 1/{N}: the gradient averages over the batch while the loss sums)" if N == 2 else ""
        return (f"1/2 times too small: the 0.5 * reg convention on one side only (the loss has reg * sum(W**2), "
                f"whose gradient is 2 * reg * W, not reg * W){both}; use the same convention in loss and gradient")
    return f"{k:.4g} times the numerical one: a constant factor in this gradient is wrong"


def float32_diagnosis(parameter: str, term: str) -> Diagnosis:
    return Diagnosis("float32", None, f"{_subject(term, parameter)} cannot be checked: the loss is computed in "
                                      f"float32 (see the note below)")
