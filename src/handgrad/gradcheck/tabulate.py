"""The loop every check shares: sample entries, differentiate numerically, one ``Check`` row per term.

``check_model``, ``check_layer`` and ``compare`` differ in what they differentiate (a model's loss terms, a
layer's output terms, a user's loss) and in their analytic gradients; the sampling, the central differences
and the table rows are this one function.
"""
from __future__ import annotations

import numpy as np

from handgrad.gradcheck.numerical import central_differences, noise_floor, sample_indices
from handgrad.gradcheck.report import Check


def sampled_checks(arrays: dict, analytic: dict, terms, evaluate, base_values, *, samples: int, eps: float,
                   tol: float, rng: np.random.Generator, total: bool) -> list[Check]:
    """One ``Check`` per (array, term), arrays in order.

    Args:
        arrays: ``name -> array`` that ``evaluate`` reads (perturbed in place and restored).
        analytic: ``term -> name -> gradient`` for every term of ``terms``.
        terms: the terms' names; with ``total``, the last one is the total, whose numerical derivative is the
            sum of the others' (less round-off than differencing the total).
        evaluate: ``() -> value(s)`` of the terms (without the total when ``total``).
        base_values: each term's value at the unperturbed arrays, for its noise floor (``noise_floor``).
        samples, eps, tol, rng: ``samples`` entries per array drawn with ``rng`` plus the entry of largest
            analytic gradient of each term (all entries of small arrays), step ``eps``, tolerance ``tol``.
    """
    checks = []
    for name, array in arrays.items():
        largest = [int(np.argmax(np.abs(analytic[t][name]))) for t in terms]
        indices = sample_indices(array.shape, samples, rng, must_include=largest)
        numerical = central_differences(evaluate, array, indices, eps).reshape(len(indices), -1)
        if total:
            numerical = np.column_stack([numerical, numerical.sum(axis=1)])
        for j, term in enumerate(terms):
            a = np.array([analytic[term][name][i] for i in indices])
            checks.append(Check.from_samples(name, term, indices, a, numerical[:, j], tol,
                                             noise_floor(base_values[j], eps)))
    return checks
