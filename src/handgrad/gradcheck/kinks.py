"""Kink-aware finite differences: tell a non-differentiable point from a wrong gradient.

A central difference ``(F(p + eps) - F(p - eps)) / (2 eps)`` assumes ``F`` is smooth on ``[p - eps, p + eps]``.
A ReLU input or a max-pool tie within ``eps`` of its switching point puts a *kink* (a jump of the derivative)
inside that interval: the central difference then averages the slopes on both sides and disagrees with a
correct analytic gradient. With the one-sided differences

    forward  = (F(p + h) - F(p)) / h,        backward = (F(p) - F(p - h)) / h,

at ``h = eps`` and at the smaller step ``h = SMALL * eps``:

- **kink**: a smooth ``F`` has ``forward - backward = h F''(p) + O(h**3)``, negligible at ``h = eps`` for the
  losses of neural networks (their curvature is moderate); where the two disagree beyond their round-off and
  the check's tolerance, and not as a smooth ``F`` does (a gap ``1/SMALL`` times the one at ``SMALL * eps``),
  the interval holds a kink. So does it when the central difference changes with the step.
- **verdict**: an entry whose central difference agrees with the analytic value passes (``PASS``). Otherwise,
  on a kink, the analytic value ``a`` passes (``KINK``) when it lies between the smallest and the largest of the
  four one-sided derivatives, within the tolerance: with a kink at ``p + d`` (``0 < d < eps``) the derivative
  at ``p`` is the slope on the left, which is ``backward`` up to ``O(h F'')``, while ``forward`` mixes both
  slopes. It passes too when the central difference moves with the step (by more than the check's tolerance
  and round-off) and the one at ``SMALL * eps``, free of a kink lying between ``SMALL * eps`` and ``eps``,
  agrees with it within its own round-off (``1/SMALL`` times the noise floor). A wrong value outside that
  range still fails (``FAIL``), as does any disagreement where ``F`` is smooth.

API (stable; also used by the per-layer checker):

- ``Sides``: ``F`` at ``p``, ``p +- eps`` and ``p +- SMALL * eps`` (floats, or 1-D arrays of several
  quantities evaluated together, e.g. every loss term); ``Sides.column(j)``/``Sides.sum()`` select.
- ``evaluate_sides(evaluate, array, index, eps, center, plus=None, minus=None)``: perturbs ``array[index]``
  in place (restored); ``central_with_sides`` computes central differences keeping ``plus``/``minus``.
- ``classify(analytic, sides, tol, atol) -> Verdict`` (``PASS``, ``KINK`` or ``FAIL``, with the range).
- ``KINK_CAUSE``: the sentence reports use to say why entries sit on kinks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handgrad.gradcheck.numerical import perturbed_values

SMALL = 0.1  # the second step is SMALL * eps: a smooth F's one-sided disagreement shrinks by this factor
PASS, KINK, FAIL = "pass", "kink", "fail"
KINK_CAUSE = "a ReLU input or a max-pool tie within eps of its switch"


@dataclass(frozen=True)
class Sides:
    """``F`` at ``p`` (``center``), ``p +- eps`` and ``p +- SMALL * eps``; floats or equal-length 1-D arrays."""

    eps: float
    center: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    plus_small: np.ndarray
    minus_small: np.ndarray

    def column(self, j: int) -> Sides:
        """The ``j``-th of several quantities evaluated together."""
        return Sides(self.eps, *(np.asarray(v)[..., j] for v in self._values()))

    def sum(self) -> Sides:
        """The sum of the quantities (e.g. the total loss from its terms)."""
        return Sides(self.eps, *(np.sum(v, axis=-1) for v in self._values()))

    def _values(self):
        return self.center, self.plus, self.minus, self.plus_small, self.minus_small

    @property
    def central(self):
        return (self.plus - self.minus) / (2 * self.eps)

    @property
    def central_small(self):
        return (self.plus_small - self.minus_small) / (2 * SMALL * self.eps)

    def one_sided(self):
        """``(forward, backward, forward_small, backward_small)``: the four one-sided derivatives."""
        h = SMALL * self.eps
        return ((self.plus - self.center) / self.eps, (self.center - self.minus) / self.eps,
                (self.plus_small - self.center) / h, (self.center - self.minus_small) / h)


def evaluate_sides(evaluate, array: np.ndarray, index, eps: float, center, plus=None, minus=None) -> Sides:
    """``Sides`` of ``evaluate()`` (a float or a 1-D array) with respect to ``array[index]``; ``center`` is
    ``evaluate()`` at the unperturbed point (the same for every entry); ``plus``/``minus``, when given, are
    ``evaluate()`` at ``p +- eps`` already computed (by the central difference), saving two evaluations.
    ``array`` is restored."""
    original = array[index]
    known = {eps: plus, -eps: minus}
    values = []
    for step in (eps, -eps, SMALL * eps, -SMALL * eps):
        if known.get(step) is not None:
            values.append(np.asarray(known[step], dtype=np.float64))
            continue
        array[index] = original + step
        values.append(np.asarray(evaluate(), dtype=np.float64))
    array[index] = original
    return Sides(eps, np.asarray(center, dtype=np.float64), *values)


def central_with_sides(evaluate, array: np.ndarray, indices, eps: float):
    """Central differences like ``numerical.central_differences`` (shape ``(len(indices), ...)``), and the
    values at ``p +- eps`` of each entry, to hand to ``evaluate_sides`` for the entries that need it."""
    plus_values, minus_values = perturbed_values(evaluate, array, indices, eps)
    out = [(plus - minus) / (2 * eps) for plus, minus in zip(plus_values, minus_values)]
    return np.array(out), plus_values, minus_values


@dataclass(frozen=True)
class Verdict:
    """One entry's verdict: ``kind`` is ``PASS``, ``KINK`` or ``FAIL``; ``kink`` is True when the interval
    ``[p - eps, p + eps]`` holds a kink; ``low``/``high`` the range of the one-sided derivatives."""

    kind: str
    kink: bool
    low: float
    high: float
    numerical: float  # the best estimate of the derivative: the central difference at the step free of the kink


def _agrees(a, n, tol, atol) -> bool:
    return abs(a - n) <= atol or abs(a - n) <= tol * max(1e-8, abs(a) + abs(n))


def classify(analytic: float, sides: Sides, tol: float, atol: float) -> Verdict:
    """Verdict for one entry (``sides`` of one quantity) given the analytic derivative ``analytic``.

    ``tol`` is the relative tolerance and ``atol`` the central difference's noise floor at ``eps``
    (``numerical.noise_floor``); the one-sided differences at ``SMALL * eps`` carry ``1/SMALL`` times that
    round-off, and every comparison at the small step allows for it.
    """
    a = float(analytic)
    central, central_small = float(sides.central), float(sides.central_small)
    fwd, bwd, fwd_s, bwd_s = (float(v) for v in sides.one_sided())
    low, high = min(fwd, bwd, fwd_s, bwd_s), max(fwd, bwd, fwd_s, bwd_s)
    atol_small = atol / SMALL
    gap, gap_small = fwd - bwd, fwd_s - bwd_s
    # the one-sided derivatives disagree beyond round-off (each ~atol/2) and the tolerance ...
    disagree = abs(gap) > 2 * atol and abs(gap) > tol * max(1e-8, abs(fwd) + abs(bwd))
    # ... and not as a smooth F's do: its gap is h F'' at every step h (only a gap well above the small step's
    # round-off, ~40 atol once scaled by 1/SMALL, lets the small step vouch for smoothness)
    smooth = abs(gap) > 80 * atol and abs(gap - gap_small / SMALL) <= 0.25 * abs(gap)
    kink = (disagree and not smooth) or not _agrees(central, central_small, tol, atol_small)
    if _agrees(a, central, tol, atol):
        return Verdict(PASS, kink, low, high, central)
    if _agrees(a, central_small, tol, atol_small) and not _agrees(central, central_small, tol, atol):
        # the central difference moves with the step and the smaller one, free of what lies between
        # SMALL * eps and eps, agrees with yours (within its own round-off)
        return Verdict(KINK, True, low, high, central_small)
    if not kink:
        return Verdict(FAIL, False, low, high, central)
    numerical = central_small if abs(fwd_s - bwd_s) < abs(fwd - bwd) else central
    margin = max(atol_small, tol * max(abs(low), abs(high)))
    inside = low - margin <= a <= high + margin
    return Verdict(KINK if inside else FAIL, True, low, high, numerical)
