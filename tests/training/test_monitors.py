import json

import pytest

import handgrad as hg
from handgrad.training import Trainer
from handgrad.training.monitors import LayerMonitor, MonitorReport, suggest_coefficient
from tests.training.synthetic import make_data, make_model, make_optimizer


def train_and_collect(activity_l2, epochs=2, optimizer=None):
    messages = []
    x, y = make_data()
    model = make_model(activity_l2=activity_l2)
    trainer = Trainer(model, optimizer or make_optimizer(epochs=epochs), batch_size=32, progress=False,
                      echo=messages.append)
    history = trainer.fit(x, y, (x[:60], y[:60]), epochs=epochs)
    return [m for m in messages if m.startswith("warning")], history


def test_over_strong_activity_penalty_warns_once_with_layer_and_suggestion():
    warnings, history = train_and_collect(activity_l2=1.0)
    penalty = [w for w in warnings if "activity penalty" in w]
    assert len(penalty) == 1
    assert penalty[0].startswith("warning: conv2d's activity penalty is") and "drowns the data loss" in penalty[0]
    assert "L2(l2=" in penalty[0] and "instead of L2(l2=1)" in penalty[0]
    share = history.column("monitor/conv2d/penalty_share")
    assert share[0] > 0.5


def test_sensible_activity_penalty_does_not_warn():
    warnings, history = train_and_collect(activity_l2=1e-4)
    assert warnings == []
    assert 0 < history.column("monitor/conv2d/penalty_share")[-1] < 0.05


def test_over_strong_weight_penalty_warns_once():
    messages = []
    x, y = make_data()
    model = hg.Sequential([hg.Conv2D(4, 3, kernel_regularizer=hg.L2(1.0)), hg.ELU(), hg.Flatten(), hg.Dense(3)],
                          input_shape=(1, 8, 8))
    history = Trainer(model, make_optimizer(epochs=3), batch_size=32, progress=False, echo=messages.append).fit(
        x, y, (x[:60], y[:60]), epochs=3)
    warnings = [m for m in messages if m.startswith("warning")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: the weight penalty is")
    assert "lower the kernel regularizers' coefficients" in warnings[0]
    assert all(share > 0.5 for share in history.column("monitor/weight_penalty_share"))


def test_history_holds_layer_statistics():
    _, history = train_and_collect(activity_l2=1e-4)
    monitor = history.rows[-1]["monitor"]
    assert {"conv2d", "dense", "dense_1"} <= set(monitor)
    conv = monitor["conv2d"]
    assert 0 <= conv["near_zero"] <= 1 and conv["mean_abs"] > 0 and sum(conv["histogram"]) == 60 * 4 * 8 * 8
    assert conv["activity_penalty"] > 0


def test_dead_layer_warning():
    """A ReLU conv whose bias pushes every pre-activation below zero outputs only zeros and gets no gradient."""
    messages = []
    x, y = make_data()
    model = hg.Sequential([hg.Conv2D(4, 3, activation="relu"), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(3)],
                          input_shape=(1, 8, 8))
    model.layer("conv2d").params["b"][...] = -100.0
    history = Trainer(model, hg.optim.SGD(lr=0.01), batch_size=32, progress=False, echo=messages.append).fit(
        x, y, (x[:60], y[:60]), epochs=2)
    dead = [m for m in messages if "activations are near zero" in m]
    assert dead[0] == ("warning: 100% of conv2d's activations are near zero (|y| < 0.01): the layer has gone dead; "
                       "if it carries a penalty, lower its coefficient")
    assert len(dead) == len(set(dead)) <= 2  # once per layer: the Dense after it only sees zeros too
    assert history.column("monitor/conv2d/near_zero") == [1.0, 1.0]


def test_suggested_coefficient_brings_the_share_to_ten_percent():
    # penalty 3 of total 4 (data 1): c' = c * P'/P with P' = 0.1 * 1 / 0.9
    assert suggest_coefficient(1.0, penalty=3.0, total=4.0) == pytest.approx(float(f"{(1 / 9) / 3:.0e}"))


def test_report_is_one_structure_written_as_the_history_layout_and_read_back():
    _, history = train_and_collect(activity_l2=1e-4)
    row = history.rows[-1]["monitor"]
    report = MonitorReport.from_dict(row)
    assert list(report.layers) == ["conv2d", "dense", "dense_1"]  # network order, layers only
    assert all(isinstance(layer, LayerMonitor) for layer in report.layers.values())
    assert report.layers["conv2d"].activity_penalty > 0 and report.layers["dense"].activity_penalty is None
    assert 0 <= report.activity_penalty_share < 0.05 and report.weight_penalty_share >= 0
    assert report.to_dict() == row
    assert json.dumps(report.to_dict()) == json.dumps(row)  # same keys in the same order


def test_a_history_row_of_the_layout_written_before_the_report_class_is_read():
    row = {"conv2d": {"mean_abs": 0.5, "near_zero": 0.1, "histogram": [1, 2], "activity_penalty": 0.2,
                      "penalty_share": 0.3},
           "dense": {"mean_abs": 1.5, "near_zero": 0.0, "histogram": [3, 0]},
           "weight_penalty_share": 0.25, "activity_penalty_share": 0.3}
    report = MonitorReport.from_dict(row)
    assert report.layers == {"conv2d": LayerMonitor(0.5, 0.1, [1, 2], 0.2, 0.3),
                             "dense": LayerMonitor(1.5, 0.0, [3, 0])}
    assert (report.weight_penalty_share, report.activity_penalty_share) == (0.25, 0.3)
    assert report.to_dict() == row
