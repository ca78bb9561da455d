"""The loop every check shares: sample entries, differentiate numerically, one ``Check`` row per term.

``check_model``, ``check_layer``, ``compare`` and the doctor (``diagnose``) differ in what they differentiate
(a model's loss terms, a layer's output terms, a user's loss and its penalties alone) and in their analytic
gradients; the sampling, the central differences, the kink classification of failing entries (the doctor's)
and the table rows are this one loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handgrad.gradcheck.kinks import KINK, central_with_sides, classify, evaluate_sides
from handgrad.gradcheck.numerical import noise_floor, relative_error, sample_indices
from handgrad.gradcheck.report import Check


@dataclass(frozen=True)
class SampledRow:
    """One (array, term): its ``check``, the sampled ``analytic`` and ``numerical`` entries, and ``kink_seen``
    (per entry: the interval ``[p - eps, p + eps]`` holds a kink; all False without kink classification)."""

    check: Check
    analytic: np.ndarray
    numerical: np.ndarray
    kink_seen: np.ndarray


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
    floors = [noise_floor(v, eps) for v in base_values]
    return [row.check for row in sampled_rows(arrays, analytic, terms, evaluate, floors, samples=samples, eps=eps,
                                              tol=tol, rng=rng, total=total)]


def sampled_rows(arrays: dict, analytic: dict, terms, evaluate, floors, *, samples: int, eps: float, tol: float,
                 rng: np.random.Generator, total: bool, center=None) -> list[SampledRow]:
    """``sampled_checks`` with each term's absolute ``floors`` given, returning ``SampledRow``s.

    ``center``: ``evaluate()`` at the unperturbed arrays; when given, every entry failing some term gets the
    kink classification of ``kinks.py`` (four more evaluations), and an entry on a kink whose analytic value
    lies between the one-sided derivatives passes (``Check.kinks``).
    """
    rows = []
    for name, array in arrays.items():
        largest = [int(np.argmax(np.abs(analytic[t][name]))) for t in terms]
        indices = sample_indices(array.shape, samples, rng, must_include=largest)
        numerical, plus, minus = central_with_sides(evaluate, array, indices, eps)
        numerical = numerical.reshape(len(indices), -1)  # (entries, terms without the total)
        if total:
            numerical = np.column_stack([numerical, numerical.sum(axis=1)])
        a = np.array([[analytic[t][name][i] for t in terms] for i in indices]).reshape(len(indices), -1)
        kink_pass, kink_seen = np.zeros(a.shape, bool), np.zeros(a.shape, bool)
        if center is not None:
            bad = ~((relative_error(a, numerical) <= tol) | (np.abs(a - numerical) <= np.array(floors)))
            for r in np.flatnonzero(bad.any(axis=1)):  # only failing entries cost the four extra evaluations
                sides = evaluate_sides(evaluate, array, indices[r], eps, center, plus[r], minus[r])
                for j in range(len(terms)):
                    one = sides.sum() if total and j == len(terms) - 1 else sides.column(j)
                    verdict = classify(a[r, j], one, tol, floors[j])
                    kink_seen[r, j], kink_pass[r, j] = verdict.kink, verdict.kind == KINK
        for j, term in enumerate(terms):
            check = Check.from_samples(name, term, indices, a[:, j], numerical[:, j], tol, floors[j],
                                       kinks=kink_pass[:, j] if center is not None else None)
            rows.append(SampledRow(check, a[:, j], numerical[:, j], kink_seen[:, j]))
    return rows
