"""The guide's experiment trains the same mistake that ``handgrad gradcheck --user-module`` flags."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad.models import reference_cnn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_training_variant_equals_the_user_module_mistake(rng):
    experiment, user = load("activity_regularization"), load("typical_mistake")
    model = reference_cnn(input_shape=(1, 12, 12), weight_l2=1e-3, activity_l2=1e-3, activity_on="pre", seed=1,
                          dtype=np.float64)
    params = model.get_weights()
    for key in params:
        params[key] += 0.05 * rng.standard_normal(params[key].shape)
    model.set_weights(params)
    x, y = rng.standard_normal((4, 1, 12, 12)), np.array([3, 1, 4, 1])
    expected_loss, expected = user.make_loss_and_grads(1e-3, 1e-3, mistake="incomplete-sum")(params, x, y)
    experiment.make_incomplete(model)
    terms, _ = model.forward_backward(x, y, training=False)
    assert terms.total == pytest.approx(expected_loss, rel=1e-12)
    for key, g in model.gradients().items():
        np.testing.assert_allclose(g, expected[key], rtol=1e-9, atol=1e-14, err_msg=key)
    # and it is wrong: the correct gradients differ for the conv layers
    correct = reference_cnn(input_shape=(1, 12, 12), weight_l2=1e-3, activity_l2=1e-3, seed=1, dtype=np.float64)
    correct.set_weights(params)
    _, good = correct.loss(x, y, training=False)
    wrong = [k for k in good if not np.allclose(good[k], expected[k], rtol=1e-6)]
    assert wrong == ["conv2d.W", "conv2d.b", "conv2d_1.W", "conv2d_1.b"]


def test_script_runs_end_to_end_and_writes_the_guide_section(tmp_path, isolated_data):
    from tests.formats import write_idx_dataset

    write_idx_dataset(tmp_path / "data", n_train=400, n_test=100)
    doc = tmp_path / "guide.md"
    doc.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n")
    experiment = load("activity_regularization")
    argv = ["--epochs", "1", "--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "runs"),
            "--validation-size", "100", "--doc", str(doc), "--figures", str(tmp_path / "fig"),
            "--strengths", "1e-5", "1e-3", "1e-2", "--no-progress"]
    assert experiment.main(argv) == 0
    text = doc.read_text()
    assert text.startswith("intro\n<!-- results:start -->\nProduced by `python examples/activity_regularization.py")
    assert text.endswith("<!-- results:end -->\noutro\n") and "old" not in text
    for name in ("no penalty", "weight L2", "+ activity L2 1e-05 pre", "+ activity L2 0.001 post",
                 "+ activity L2 0.001 pre, incomplete gradient", "+ activity L2 0.01 pre, incomplete gradient"):
        assert f"| {name}" in text
    assert (tmp_path / "fig" / "activity_accuracy.png").stat().st_size > 0
    assert (tmp_path / "fig" / "activity_strength.png").stat().st_size > 0


def test_batch_summed_variant_has_the_right_gradient_of_a_penalty_that_grows_with_the_batch(rng):
    """Its gradients equal handgrad's for the penalty times N (an independent reference), so every gradient
    check passes; only the doctor's batch-scaling probe names the activity term."""
    from handgrad.gradcheck import diagnose

    user = load("typical_mistake")
    N = 4
    params = reference_cnn(input_shape=(1, 12, 12), seed=2, dtype=np.float64).get_weights()
    for key in params:
        params[key] += 0.05 * rng.standard_normal(params[key].shape)
    x, y = rng.standard_normal((N, 1, 12, 12)), np.array([3, 1, 4, 1])
    loss, grads = user.batch_summed_loss_and_grads(params, x, y)
    stronger = reference_cnn(input_shape=(1, 12, 12), weight_l2=user.WEIGHT_L2, activity_l2=N * user.ACTIVITY_L2,
                             seed=2, dtype=np.float64)
    stronger.set_weights(params)
    terms, expected = stronger.loss(x, y, training=False)
    assert loss == pytest.approx(terms.total, rel=1e-12)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-9, atol=1e-14, err_msg=key)
    report = diagnose(user.batch_summed_loss_and_grads, x[:2], y[:2], {"weight": "weight_l2",
                                                                         "activity": "activity_l2"},
                      params=params, samples=3, verbose=False)
    assert report.failures() == []
    assert [b.term for b in report.probe_failures()] == ["activity"]
