"""``gradcheck.kinks``: a kink within eps is told from a wrong gradient, on functions whose derivative is known."""
import numpy as np
import pytest

from handgrad.gradcheck.kinks import FAIL, KINK, PASS, classify, evaluate_sides
from handgrad.gradcheck.numerical import noise_floor

EPS, TOL = 1e-6, 1e-6


def sides_of(f, p0, index=0):
    p = np.array([p0], dtype=np.float64)
    return evaluate_sides(lambda: f(p[0]), p, index, EPS, f(p0)), p


def relu_loss(d):
    """F(p) = 3 p + 2 relu(p - d): slope 3 left of d, 5 right of it."""
    return lambda p: 3.0 * p + 2.0 * max(p - d, 0.0) + 1.0


@pytest.mark.parametrize("d", [3e-7, 5e-8, -4e-7, 0.0])
def test_a_correct_gradient_next_to_a_kink_is_a_kink_not_a_failure(d):
    sides, p = sides_of(relu_loss(d), 0.0)
    assert p[0] == 0.0  # restored
    analytic = 5.0 if d < 0 else 3.0  # the slope at p = 0 (d = 0: either one-sided derivative is a subgradient)
    verdict = classify(analytic, sides, TOL, noise_floor(1.0, EPS))
    assert verdict.kind == KINK and verdict.kink, verdict
    # one one-sided derivative is a slope (3 or 5), the other mixes both slopes
    assert 3.0 - 1e-6 <= verdict.low < verdict.high <= 5.0 + 1e-6 and verdict.high - verdict.low > 0.5


@pytest.mark.parametrize("analytic", [6.0, -3.0, 2.0, 10.0])
def test_a_wrong_value_outside_the_one_sided_range_fails_even_on_the_kink(analytic):
    sides, _ = sides_of(relu_loss(0.0), 0.0)
    assert classify(analytic, sides, TOL, noise_floor(1.0, EPS)).kind == FAIL


def test_smooth_functions_pass_or_fail_on_the_central_difference_alone():
    f = lambda p: np.sin(3 * p) + p ** 2  # noqa: E731
    sides, _ = sides_of(f, 0.4)
    exact = 3 * np.cos(1.2) + 0.8
    atol = noise_floor(f(0.4), EPS)
    good = classify(exact, sides, TOL, atol)
    assert good.kind == PASS and not good.kink
    # inside the one-sided range of a smooth function but 1e-5 off: a wrong gradient, not a kink
    bad = classify(exact * (1 + 1e-5), sides, TOL, atol)
    assert bad.kind == FAIL and not bad.kink


def test_several_quantities_at_once_and_their_sum():
    p = np.array([0.0])
    f = lambda: np.array([3.0 * p[0] + 2.0 * max(p[0] - 2e-7, 0.0), p[0] ** 2 + 4 * p[0]])  # noqa: E731
    sides = evaluate_sides(f, p, 0, EPS, f())
    atol = noise_floor(1.0, EPS)
    assert classify(3.0, sides.column(0), TOL, atol).kind == KINK
    assert classify(4.0, sides.column(1), TOL, atol).kind == PASS
    assert classify(7.0, sides.sum(), TOL, atol).kind == KINK
    assert classify(8.0, sides.sum(), TOL, atol).kind == KINK
    assert classify(9.5, sides.sum(), TOL, atol).kind == FAIL
