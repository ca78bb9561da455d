"""Numerical gradients of the user's own forward, in float64, over every entry of each (small) input.

The cases keep every kink (ReLU at 0, a tie in a max, a hinge margin at 0) farther than ``EPS`` from the
inputs, so the plain central difference is the derivative. Where a user's forward has a kink of its own
within reach, ``settle_kinks`` re-examines the disagreeing entries with the model doctor's kink-aware
differences (``gradcheck/kinks.py``): an entry on a kink whose analytic value lies within the one-sided
derivatives is accepted, as ``diagnose`` accepts it.
"""
from __future__ import annotations

import numpy as np

from handgrad.gradcheck import kinks
from handgrad.gradcheck.numerical import central_differences, noise_floor

EPS = 1e-6
TOL = 1e-6  # per-entry relative tolerance of the kink verdicts (diagnoses.TOL for whole arrays)


def gradient(evaluate, array: np.ndarray) -> np.ndarray:
    """``d evaluate() / d array`` at every entry (``array`` perturbed in place and restored)."""
    indices = list(np.ndindex(array.shape))
    return central_differences(evaluate, array, indices, EPS).reshape(array.shape)


def settle_kinks(evaluate, array: np.ndarray, analytic: np.ndarray, numerical: np.ndarray) -> tuple[np.ndarray, int]:
    """``(numerical', count)``: ``numerical`` with each disagreeing entry that sits on a kink (and whose
    analytic value the one-sided derivatives allow) replaced by the analytic value; ``count`` of them."""
    analytic = np.asarray(analytic, np.float64)
    center = float(evaluate())
    atol = noise_floor(center, EPS)
    settled, count = numerical.copy(), 0
    disagree = np.abs(analytic - numerical) > np.maximum(atol, TOL * (np.abs(analytic) + np.abs(numerical)))
    for index in zip(*np.nonzero(disagree)):
        sides = kinks.evaluate_sides(evaluate, array, index, EPS, center)
        if kinks.classify(analytic[index], sides, TOL, atol).kind == kinks.KINK:
            settled[index] = analytic[index]
            count += 1
    return settled, count
