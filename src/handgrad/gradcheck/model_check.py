"""Check a model's analytic gradients against finite differences, term by term."""
from __future__ import annotations

import copy

import numpy as np

from handgrad.gradcheck.numerical import validate_options
from handgrad.gradcheck.report import GradcheckReport
from handgrad.gradcheck.tabulate import sampled_checks
from handgrad.sequential import TERMS, Sequential

ALL_TERMS = (*TERMS, "total")


def check_model(model: Sequential, x, y, *, samples: int = 20, eps: float = 1e-6, tol: float = 1e-6,
                seed: int = 0, training: bool = False, verbose: bool = True) -> GradcheckReport:
    """Central differences in float64 for every parameter and every loss term (data, weight, activity, total).

    Works on a float64 copy of ``model`` (the model itself is untouched). For each parameter, ``samples``
    seeded random entries are checked plus the entry of largest analytic gradient of each term (all entries
    of small parameters). One pair of forward passes per entry yields the derivatives of all terms at once;
    the numerical derivative of the total is the sum of the terms' (less round-off than differencing the
    total), and is compared with the gradient ``model.loss`` returns for the total.

    An entry passes when its relative error ``|a - n| / max(1e-8, |a| + |n|)`` is at most ``tol`` or when
    ``|a - n|`` is below the term's finite-difference noise floor (see ``noise_floor``).

    Args:
        model: the model; x, y: a (small) batch and its integer labels.
        samples: random entries per parameter. eps: finite-difference step. tol: maximum relative error.
        seed: seeds the choice of entries. training: run dropout (off by default: masks must not change
            between the perturbed passes). verbose: print the report.

    Returns: a ``GradcheckReport`` with one row per (parameter, term).
    """
    validate_options(eps, tol, samples, where="check_model")
    model = copy.deepcopy(model).astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    analytic = {}
    for term in TERMS:
        _, grads = model.loss(x, y, training=training, terms=(term,))
        analytic[term] = {k: g.copy() for k, g in grads.items()}
    base, grads = model.loss(x, y, training=training)
    analytic["total"] = {k: g.copy() for k, g in grads.items()}
    base_values = [base.data, base.weight, base.activity, base.total]

    def evaluate():
        t = model.loss_terms(x, y, training=training)
        return [t.data, t.weight, t.activity]

    rng = np.random.default_rng(seed)
    checks = sampled_checks(model.parameters(), analytic, ALL_TERMS, evaluate, base_values, samples=samples,
                            eps=eps, tol=tol, rng=rng, total=True)
    report = GradcheckReport(checks, tol, title="check_model")
    if verbose:
        print(report)
    return report
