"""Numerical gradients of the user's own forward, in float64, over every entry of each (small) input.

The cases keep every kink (ReLU at 0, a tie in a max, a hinge margin at 0) farther than ``EPS`` from the
inputs, so the plain central difference is the derivative; ``gradient`` is the one place to swap in the
model doctor's kink-aware differences (``gradcheck/kinks.py``) for inputs that cannot avoid them.
"""
from __future__ import annotations

import numpy as np

from handgrad.gradcheck.numerical import central_differences

EPS = 1e-6


def gradient(evaluate, array: np.ndarray) -> np.ndarray:
    """``d evaluate() / d array`` at every entry (``array`` perturbed in place and restored)."""
    indices = list(np.ndindex(array.shape))
    return central_differences(evaluate, array, indices, EPS).reshape(array.shape)
