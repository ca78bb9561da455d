"""Central finite differences on sampled entries of an array.

``dF/dp[i] ~ (F(p + eps*e_i) - F(p - eps*e_i)) / (2*eps)``, computed in float64: the truncation error is
O(eps**2) and the round-off O(1e-16 * |F| / eps); ``eps = 1e-6`` balances the two.
"""
from __future__ import annotations

import numpy as np

from handgrad.errors import ArgumentError


def sample_indices(shape, count: int, rng: np.random.Generator, must_include=()) -> list[tuple[int, ...]]:
    """All indices of an array of ``shape`` when it has at most ``count`` entries, else ``count`` distinct
    random ones (seeded by ``rng``) plus the flat indices in ``must_include`` (e.g. the largest gradients)."""
    size = int(np.prod(shape))
    if size <= count:
        flat = np.arange(size)
    else:
        flat = np.union1d(rng.choice(size, size=count, replace=False), np.asarray(must_include, dtype=np.int64))
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]


def central_differences(evaluate, array: np.ndarray, indices, eps: float) -> np.ndarray:
    """Numerical derivatives of ``evaluate()`` with respect to ``array[index]`` for each index.

    ``evaluate`` reads ``array`` (which is perturbed in place and restored) and returns a float or a 1-D
    array of several quantities (e.g. every loss term at once); the result has shape ``(len(indices), ...)``.
    """
    plus, minus = perturbed_values(evaluate, array, indices, eps)
    return np.array([(p - m) / (2 * eps) for p, m in zip(plus, minus)])


def perturbed_values(evaluate, array: np.ndarray, indices, eps: float) -> tuple[list, list]:
    """``evaluate()`` (as float64 arrays) with ``array[index]`` moved to ``+ eps`` and to ``- eps``, for each
    index: two lists of ``len(indices)`` values; ``array`` is restored after each entry."""
    plus, minus = [], []
    for index in indices:
        original = array[index]
        array[index] = original + eps
        plus.append(np.asarray(evaluate(), dtype=np.float64))
        array[index] = original - eps
        minus.append(np.asarray(evaluate(), dtype=np.float64))
        array[index] = original
    return plus, minus


def noise_floor(value, eps: float) -> float:
    """Absolute error below which a central difference cannot be trusted: ``1e-15 * max(1, |F|) / eps``.

    Evaluating ``F`` in float64 rounds it by ~1e-16 * |F| per operation; dividing the difference of two such
    values by ``2 * eps`` magnifies that error. The factor 1e-15 leaves a margin of ~10 over what we measure.
    """
    return 1e-15 * max(1.0, abs(float(value))) / eps


def relative_error(analytic, numerical) -> np.ndarray:
    """``|a - n| / max(1e-8, |a| + |n|)``, element-wise."""
    analytic, numerical = np.asarray(analytic, np.float64), np.asarray(numerical, np.float64)
    return np.abs(analytic - numerical) / np.maximum(1e-8, np.abs(analytic) + np.abs(numerical))


def validate_options(eps, tol, samples, where: str = "gradcheck", names=None) -> None:
    """Refuse a step, tolerance or sample count that would make the check meaningless.

    ``ArgumentError`` unless ``eps`` is finite and in (0, 1), ``tol`` finite and in (0, 1) (relative errors
    lie in [0, 1]: a tolerance of 1 or more, or inf, passes every gradient) and ``samples`` a positive integer.
    ``names`` maps ``"eps"``, ``"tol"``, ``"samples"`` to how the caller calls them (e.g. ``"--tol"``). Every
    check calls it (``check_model``, ``check_layer``, ``compare``, ``diagnose``, the CLI).
    """
    names = {"eps": "eps", "tol": "tol", "samples": "samples", **(names or {})}
    for key, value in (("eps", eps), ("tol", tol)):
        ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
        if not ok or not (np.isfinite(value) and 0 < value < 1):
            hint = " (relative errors lie in [0, 1]: such a tolerance passes any gradient)" if key == "tol" else ""
            raise ArgumentError(f"{where}: {names[key]} must be a number in (0, 1), got {value!r}{hint}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ArgumentError(f"{where}: {names['samples']} must be a positive integer, got {samples!r}")
