"""ELU results against exact values, within error bounds counted in ulps (habit 11 of the house style).

Transcendental functions are never compared bit for bit between two libraries: NumPy's ``expm1`` picks a
SIMD loop by CPU (AVX-512, AVX2, baseline) and numba calls the C library's, and each may round the last bit
differently. Each kernel is compared instead with the exact value (float64 for float32 results, 40-digit
``decimal`` for float64 results) within a bound derived from its implementation's documented or measured
error:

- ``HANDGRAD_F32_EXPM1_ULPS``: ``numba_loops.elu_f32``'s own ``expm1``: measured over every float32 in
  ``[-17.5, 0]`` at 0.87 ulp with fused multiply-adds and 0.90 ulp without (``benchmarks/elu_kernel.py
  --exhaustive``), so 1 ulp on any CPU.
- ``LIBM_EXPM1_ULPS``: ``numba_loops.elu_f64`` calls the C library's ``expm1`` (glibc's manual lists 1 ulp
  for double on x86-64 and arm64; the FreeBSD-derived libraries of macOS and musl claim < 1 ulp).
- ``NUMPY_EXPM1_ULPS``: the reference kernels call NumPy's ``expm1``, whose SIMD loops are documented at up
  to 4 ulp (NumPy's own accuracy tests allow 3 for float32 ``expm1``, 4 for float32 ``log``).

With ``alpha != 1`` the kernels round once more, ``y = fl(alpha * e)`` with ``e`` within ``k`` ulps of
``expm1(x)``. For any ``alpha > 0``, ``alpha * ulp(E) < 2 ulp(alpha * E)`` (``ulp(E) <= 2**-23 |E|`` in
float32, and ``ulp(alpha * E) > 2**-24 |alpha * E|``), so ``|alpha * e - alpha * E| < 2k ulp``; the rounding
adds half an ulp of ``fl(alpha * e)``, at most one binade above: ``|y - alpha * E| < (2k + 1) ulp``.
``alpha`` is taken in the data's dtype on both sides (the kernels cannot multiply by anything else).
"""
from __future__ import annotations

import decimal

import numpy as np

HANDGRAD_F32_EXPM1_ULPS = 1
LIBM_EXPM1_ULPS = 1
NUMPY_EXPM1_ULPS = 4


def expm1_ulps(kernels: str, dtype) -> int:
    """The ``expm1`` bound of ELU in the given kernel set (``"numba"`` or ``"numpy"``) and dtype."""
    if kernels == "numpy":
        return NUMPY_EXPM1_ULPS
    return HANDGRAD_F32_EXPM1_ULPS if np.dtype(dtype) == np.float32 else LIBM_EXPM1_ULPS


def elu_ulps(expm1_bound: int, alpha: float) -> int:
    """ELU's bound from its ``expm1``'s: ``k`` with ``alpha == 1`` (exact product), else ``2k + 1``."""
    return expm1_bound if alpha == 1 else 2 * expm1_bound + 1


def exact_elu(x: np.ndarray, alpha: float) -> np.ndarray:
    """``x if x >= 0 or x is NaN else alpha * expm1(x)`` in float64, exact to far below ``x``'s ulp.

    float32 ``x``: ``expm1`` in float64 (2**-29 float32 ulps). float64 ``x``: 40-digit ``decimal`` (one
    call per element; keep such arrays to a few thousand elements). ``alpha`` rounded to ``x``'s dtype first.
    """
    a = float(x.dtype.type(alpha))
    x64 = x.astype(np.float64)
    if x.dtype == np.float32:
        with np.errstate(invalid="ignore", over="ignore"):  # x = +inf: the branch np.where drops
            return np.where(np.isnan(x64) | (x64 >= 0), x64, a * np.expm1(x64))
    out = x64.copy()
    with decimal.localcontext() as context:
        context.prec = 40
        for i in np.flatnonzero(x64 < 0):
            out.flat[i] = -a if x64.flat[i] == -np.inf else float(decimal.Decimal(a) * _expm1(x64.flat[i]))
    return out


def _expm1(v: float) -> decimal.Decimal:
    """``exp(v) - 1`` to the context's precision; small ``|v|`` by its Taylor series (``exp(v) - 1`` would
    cancel every digit of ``v`` below 1e-40)."""
    d = decimal.Decimal(v)
    if abs(v) >= 1e-3:
        return d.exp() - 1
    term = total = d
    for n in range(2, 12):  # remainder below (1e-3)**12 / 12!: far below any float64 ulp of the sum
        term = term * d / n
        total += term
    return total


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``|got - want|`` in ulps of ``got``'s dtype at ``want`` (finite entries only)."""
    spacing = np.spacing(np.abs(want).astype(got.dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


def assert_elu_close(y: np.ndarray, x: np.ndarray, alpha: float, expm1_bound: int, what: str = "") -> float:
    """``y`` is ELU(``x``) within the derived bound: NaN where ``x`` is NaN, infinities and the sign of zero
    exactly as the math says (``-inf -> -alpha``, ``+-0 -> +-0``), the rest within ``elu_ulps`` ulps.

    Returns the largest error in ulps (for reports).
    """
    want = exact_elu(x, alpha)
    assert y.shape == x.shape and y.dtype == x.dtype, what
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=f"{what}: NaN positions")
    finite = np.isfinite(want)
    np.testing.assert_array_equal(y[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)],
                                  err_msg=f"{what}: infinities")
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(y[zeros]), np.signbit(want[zeros]), err_msg=f"{what}: sign of zero")
    errors = ulps(y[finite], want[finite])
    worst = float(errors.max(initial=0.0))
    bound = elu_ulps(expm1_bound, alpha)
    if worst > bound:
        i = int(np.argmax(errors))
        raise AssertionError(f"{what}: ELU off by {worst:.3f} ulps > {bound} at x = {x[finite][i]!r} "
                             f"(got {y[finite][i]!r}, exact {want[finite][i]!r})")
    return worst
