"""``compare`` on users' own gradient code: the typical activity-penalty mistake is caught and named."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from handgrad.gradcheck import compare
from handgrad.models import reference_cnn

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typical_mistake.py"


def load_user_module():
    spec = importlib.util.spec_from_file_location("typical_mistake", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def user():
    return load_user_module()


@pytest.fixture
def setup(rng):
    model = reference_cnn(input_shape=(1, 12, 12), seed=4, dtype=np.float64)
    params = model.get_weights()
    for key in params:  # non-zero biases, as after some training
        params[key] += 0.05 * rng.standard_normal(params[key].shape)
    x, y = rng.standard_normal((4, 1, 12, 12)), np.array([1, 2, 3, 4])
    return model, params, x, y


def check(fn, params, x, y):
    _, grads = fn(params, x, y)
    return compare(lambda p: fn(p, x, y)[0], params, grads, verbose=False)


def test_users_correct_code_agrees_with_handgrad(user, setup):
    model, params, x, y = setup
    loss, grads = user.correct_loss_and_grads(params, x, y)
    full = reference_cnn(input_shape=(1, 12, 12), weight_l2=user.WEIGHT_L2, activity_l2=user.ACTIVITY_L2,
                         dtype=np.float64)
    full.set_weights(params)
    terms, ours = full.loss(x, y, training=False)
    assert loss == pytest.approx(terms.total, rel=1e-12)
    for key in ours:
        np.testing.assert_allclose(grads[key], ours[key], rtol=1e-9, atol=1e-15, err_msg=key)
    assert check(user.correct_loss_and_grads, params, x, y).passed


def test_the_typical_mistake_is_caught_and_the_wrong_parameters_named(user, setup, capsys):
    _, params, x, y = setup
    report = check(user.loss_and_grads, params, x, y)
    assert not report.passed
    # the first conv's W misses what the second conv's penalty sends down; both biases miss their term
    assert report.failed_parameters() == ["conv2d.W", "conv2d.b", "conv2d_1.b"]
    print(report)
    out = capsys.readouterr().out
    assert "FAIL: 3 of 8 checks: conv2d.W (loss), conv2d.b (loss), conv2d_1.b (loss)" in out


def test_summing_the_penalty_over_the_batch_is_caught_too(user, setup):
    _, params, x, y = setup
    report = check(user.incomplete_sum_loss_and_grads, params, x, y)
    assert report.failed_parameters() == ["conv2d.W", "conv2d.b", "conv2d_1.W", "conv2d_1.b"]


def test_compare_rejects_mismatched_dicts():
    with pytest.raises(KeyError, match="missing \\['b'\\]"):
        compare(lambda p: 0.0, {"a": np.zeros(2), "b": np.zeros(2)}, {"a": np.zeros(2)})
    with pytest.raises(ValueError, match="grads\\['a'\\] has shape \\(3,\\)"):
        compare(lambda p: 0.0, {"a": np.zeros(2)}, {"a": np.zeros(3)})
