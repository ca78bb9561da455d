"""Every gradient check refuses a step, tolerance or sample count that would make it meaningless (``tol=5``
passes every gradient), with the same one-line error naming the check and the argument."""
import numpy as np
import pytest

import handgrad as hg
from handgrad.errors import ArgumentError
from handgrad.gradcheck import check_layer, check_model, compare


def run_check(which, **options):
    x = np.random.default_rng(0).standard_normal((2, 3))
    if which == "check_layer":
        return check_layer(hg.Dense(2), x, verbose=False, **options)
    if which == "check_model":
        model = hg.Sequential([hg.Dense(2)], input_shape=(3,))
        return check_model(model, x, np.array([0, 1]), verbose=False, **options)
    params = {"w": np.ones(3)}
    return compare(lambda p: float(np.sum(p["w"] ** 2)), params, {"w": 2 * params["w"]}, verbose=False, **options)


@pytest.mark.parametrize("which", ["check_layer", "check_model", "compare"])
@pytest.mark.parametrize("options, message", [
    (dict(tol=5), r"tol must be a number in \(0, 1\), got 5 \(relative errors lie in \[0, 1\]"),
    (dict(tol=float("inf")), r"tol must be a number in \(0, 1\), got inf"),
    (dict(eps=0.0), r"eps must be a number in \(0, 1\), got 0.0"),
    (dict(samples=0), "samples must be a positive integer, got 0"),
])
def test_bad_options_are_refused(which, options, message):
    with pytest.raises(ArgumentError, match=f"^{which}: {message}"):
        run_check(which, **options)


@pytest.mark.parametrize("which", ["check_layer", "check_model", "compare"])
def test_default_options_pass_correct_gradients(which):
    assert run_check(which).passed
