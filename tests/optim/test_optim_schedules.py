"""Learning-rate schedules against their closed forms (hand-computed values at chosen steps)."""
import json
import math
import re

import pytest

from handgrad.optim import schedules
from handgrad.optim.schedules import Constant, Cosine, StepDecay, Warmup, make_schedule


def test_constant():
    assert [Constant(0.3)(k) for k in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize("step, expected", [(0, 0.1), (2, 0.1), (3, 0.05), (5, 0.05), (6, 0.025), (9, 0.0125),
                                            (99, 0.1 * 0.5**33)])
def test_step_decay(step, expected):
    assert StepDecay(0.1, step_size=3, gamma=0.5)(step) == pytest.approx(expected, rel=1e-15)


def test_step_decay_default_gamma():
    assert StepDecay(1.0, step_size=2)(4) == pytest.approx(0.01, rel=1e-15)


@pytest.mark.parametrize("step, expected", [
    (0, 0.1),
    (1, 0.02 + 0.08 * (1 + math.sqrt(0.5)) / 2),  # cos(pi/4) = sqrt(1/2)
    (2, 0.06),                                    # halfway: the mean of lr and min_lr
    (3, 0.02 + 0.08 * (1 - math.sqrt(0.5)) / 2),
    (4, 0.02),
    (5, 0.02), (1000, 0.02),                      # held at min_lr after total_steps
])
def test_cosine(step, expected):
    assert Cosine(0.1, total_steps=4, min_lr=0.02)(step) == pytest.approx(expected, rel=1e-14)


def test_cosine_default_min_lr_is_zero():
    assert Cosine(1.0, 10)(10) == 0.0
    assert Cosine(1.0, 10)(5) == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("step, expected", [(0, 0.025), (1, 0.05), (2, 0.075), (3, 0.1), (4, 0.1), (100, 0.1)])
def test_warmup_constant(step, expected):
    assert Warmup(Constant(0.1), warmup_steps=4)(step) == pytest.approx(expected, rel=1e-15)


def test_warmup_multiplies_the_wrapped_schedule_on_the_same_axis():
    inner = Cosine(1.0, total_steps=10)
    s = Warmup(inner, warmup_steps=2)
    assert s(0) == pytest.approx(0.5, rel=1e-15)  # inner(0) / 2
    assert s(1) == inner(1) == pytest.approx((1 + math.cos(math.pi / 10)) / 2, rel=1e-15)  # not delayed
    assert s(7) == inner(7)
    assert Warmup(StepDecay(1.0, 2, 0.5), 4)(2) == pytest.approx(0.5 * 3 / 4, rel=1e-15)


def test_warmup_of_one_step_is_the_identity():
    inner = StepDecay(0.1, 3)
    assert [Warmup(inner, 1)(k) for k in range(10)] == [inner(k) for k in range(10)]


def test_warmup_accepts_a_number():
    assert Warmup(0.2, 2)(0) == pytest.approx(0.1, rel=1e-15)


# ---------------------------------------------------------------- make_schedule
def test_make_schedule():
    assert make_schedule("constant", 0.1, 100) == Constant(0.1)
    assert make_schedule("step", 0.1, 100, step_size=30, gamma=0.2) == StepDecay(0.1, 30, 0.2)
    assert make_schedule("cosine", 0.1, 100, min_lr=0.001) == Cosine(0.1, 100, 0.001)
    assert make_schedule("cosine", 0.1, 100, warmup_steps=10) == Warmup(Cosine(0.1, 100), 10)
    s = make_schedule("step", 0.1, 100, warmup_steps=5, step_size=20)
    assert isinstance(s, Warmup) and s.schedule == StepDecay(0.1, 20, 0.1) and s.warmup_steps == 5


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(name="linear", lr=0.1, total_steps=10), ValueError,
     "make_schedule: name must be one of 'constant', 'step', 'cosine', got 'linear'"),
    (dict(name="step", lr=0.1, total_steps=10), ValueError,
     "make_schedule: step_size is required for the 'step' schedule, got None"),
    (dict(name="cosine", lr=0.1, total_steps=0), ValueError, "make_schedule: total_steps must be >= 1, got 0"),
    (dict(name="cosine", lr=0.1, total_steps=10, warmup_steps=-1), ValueError,
     "make_schedule: warmup_steps must be >= 0, got -1"),
    (dict(name="cosine", lr=0.1, total_steps=10.0), TypeError,
     "make_schedule: total_steps must be an integer, got 10.0 (float)"),
    (dict(name="cosine", lr=-0.1, total_steps=10), ValueError, "Cosine: lr must be > 0, got -0.1"),
])
def test_make_schedule_rejects(kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        make_schedule(**kwargs)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("make, error, message", [
    (lambda: Constant(0.0), ValueError, "Constant: lr must be > 0, got 0.0"),
    (lambda: Constant(float("inf")), ValueError, "Constant: lr must be finite, got inf"),
    (lambda: StepDecay(0.1, 0), ValueError, "StepDecay: step_size must be >= 1, got 0"),
    (lambda: StepDecay(0.1, 2.5), TypeError, "StepDecay: step_size must be an integer, got 2.5 (float)"),
    (lambda: StepDecay(0.1, 2, gamma=0.0), ValueError, "StepDecay: gamma must be > 0, got 0.0"),
    (lambda: StepDecay(0.1, 2, gamma=1.5), ValueError, "StepDecay: gamma must be <= 1, got 1.5"),
    (lambda: Cosine(0.1, 0), ValueError, "Cosine: total_steps must be >= 1, got 0"),
    (lambda: Cosine(0.1, 10, min_lr=0.2), ValueError, "Cosine: min_lr must be <= 0.1, got 0.2"),
    (lambda: Cosine(0.1, 10, min_lr=-0.1), ValueError, "Cosine: min_lr must be >= 0, got -0.1"),
    (lambda: Warmup(Constant(0.1), 0), ValueError, "Warmup: warmup_steps must be >= 1, got 0"),
])
def test_schedule_rejects(make, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        make()


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("schedule", [Constant(0.1), StepDecay(0.1, 3, 0.5), Cosine(0.1, 50, 0.001),
                                      Warmup(Cosine(0.1, 50), 5), Warmup(Warmup(Constant(1.0), 3), 2)])
def test_serialize_round_trip(schedule):
    data = json.loads(json.dumps(schedules.serialize(schedule)))
    rebuilt = schedules.get(data)
    assert rebuilt == schedule
    assert [rebuilt(k) for k in range(60)] == [schedule(k) for k in range(60)]


def test_get_config():
    assert Warmup(Cosine(0.1, 50), 5).get_config() == {
        "schedule": {"class_name": "Cosine", "config": {"lr": 0.1, "total_steps": 50, "min_lr": 0.0}},
        "warmup_steps": 5}


def test_get_rejects_unknown():
    with pytest.raises(ValueError, match=r"unknown schedule class_name 'Linear'"):
        schedules.get({"class_name": "Linear", "config": {}})
    with pytest.raises(TypeError, match=r"cannot interpret 0.1 \(float\) as a schedule"):
        schedules.get(0.1)
