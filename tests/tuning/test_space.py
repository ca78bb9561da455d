"""Search spaces: the default one is the issue's, files are read with errors naming file, table and key, flags
fix values, and the guide's experiment is a grid. Sampling goes through a real Optuna study (in memory)."""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from handgrad.config import TrainConfig
from handgrad.tuning.space import DEFAULT_SPACE, grid_points, load_space, parse_space

ROOT = Path(__file__).resolve().parents[2]


def sample(space, n, seed=0) -> list[dict]:
    """``n`` trials of ``space`` drawn by Optuna's RandomSampler (a real study in memory)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out


def test_default_space_is_the_issues():
    draws = sample(DEFAULT_SPACE, 400)
    assert {tuple(sorted(d)) for d in draws} == {("activity_l2", "activity_on", "dropout", "lr", "weight_l2")}
    lr = np.array([d["lr"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 3e-3
    # log-uniform: about half the draws below the geometric midpoint sqrt(1e-4 * 3e-3) = 5.5e-4
    assert 0.4 < np.mean(lr < math.sqrt(1e-4 * 3e-3)) < 0.6
    for name, low, high in (("weight_l2", 1e-6, 1e-3), ("activity_l2", 1e-8, 1e-3)):
        values = np.array([d[name] for d in draws])
        zero = values == 0
        assert 0.35 < zero.mean() < 0.65, name  # "0 or log range": a fair on/off choice
        assert values[~zero].min() >= low and values[~zero].max() <= high
        assert 0.35 < np.mean(values[~zero] < math.sqrt(low * high)) < 0.65, name
    assert {d["activity_on"] for d in draws} == {"pre", "post"}
    dropout = np.array([d["dropout"] for d in draws])
    assert dropout.min() >= 0 and dropout.max() <= 0.6 and dropout.max() - dropout.min() > 0.5
    for d in draws[:20]:
        TrainConfig(**d)  # every draw is a valid config


def test_space_file_with_fixed_search_and_int_ranges(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[fixed]\noptimizer = "nesterov"\nlr = 0.05\n\n'
                    '[search.weight_l2]\nlow = 1e-6\nhigh = 1e-3\nlog = true\nzero = true\n\n'
                    '[search.batch_size]\nlow = 32\nhigh = 128\nstep = 32\n\n'
                    '[search.augment]\nchoices = [true, false]\n')
    space = load_space(path)
    assert space.fixed == {"optimizer": "nesterov", "lr": 0.05}
    assert space.names == ("weight_l2", "batch_size", "augment")
    draws = sample(space, 60)
    assert {d["batch_size"] for d in draws} == {32, 64, 96, 128}
    assert {d["augment"] for d in draws} == {True, False}
    assert any(d["weight_l2"] == 0 for d in draws) and any(d["weight_l2"] > 0 for d in draws)
    # a flag given to `handgrad tune` fixes the field: it is no longer searched and wins over [fixed]
    flagged = space.with_fixed({"batch_size": 50, "lr": 0.01})
    assert flagged.names == ("weight_l2", "augment") and flagged.fixed["lr"] == 0.01
    assert all("batch_size" not in d for d in sample(flagged, 5))


def test_a_file_with_only_fixed_values_searches_the_default_space_less_those(tmp_path):
    path = tmp_path / "fixed.toml"
    path.write_text('[fixed]\nactivity_on = "post"\nepochs = 3\n')
    space = load_space(path)
    assert space.names == ("lr", "weight_l2", "activity_l2", "dropout")
    assert space.fixed == {"activity_on": "post", "epochs": 3}


@pytest.mark.parametrize("text, message", [
    ("[search.lrr]\nlow = 1\nhigh = 2\n", "[search.lrr] lrr: 'lrr' is not a training setting (expected one of: "),
    ("[search.lr]\nlow = -1.0\nhigh = 2.0\n", "[search.lr].low: lr must be > 0.0, got -1.0"),
    ("[search.lr]\nlow = 1e-2\nhigh = 1e-3\n", "[search.lr]: low must be < high, got low = 0.01, high = 0.001"),
    ("[search.lr]\nlow = 1e-4\n", "[search.lr]: missing high"),
    ("[search.weight_l2]\nlow = 0.0\nhigh = 1e-3\nlog = true\n", "a log range needs low > 0, got low = 0.0"),
    ("[search.activity_on]\nchoices = [\"pre\", \"before\"]\n",
     "[search.activity_on].choices: activity_on must be one of 'pre', 'post', got 'before'"),
    ("[search.activity_on]\nlow = 1\nhigh = 2\n", "activity_on is a str setting: give choices = [...]"),
    ("[search.epochs]\nlow = 1\nhigh = 5\nstep = 0.5\n", "[search.epochs].step: epochs is an int setting"),
    ("[search.lr]\nlow = 1e-4\nhigh = 1e-2\nlgo = true\n", "unknown keys lgo"),
    ("[search.seed]\nlow = 0\nhigh = 5\n", "'seed' cannot be set here"),
    ("[fixed]\nepochs = 2.5\n", "[fixed] epochs: epochs must be an integer, got 2.5 (float)"),
    ("[fixed]\naugment = 1\n", "[fixed] augment: augment must be a bool, got 1"),
    ("[fixed]\nname = \"x\"\n", "[fixed] name: 'name' cannot be set here"),
    ("[fixed]\nlr = 0.1\n[search.lr]\nlow = 1e-4\nhigh = 1e-2\n", "lr is also in [fixed]"),
    ("[grid]\nlr = [0.1]\n[search.lr]\nlow = 1e-4\nhigh = 1e-2\n", "either [search.FIELD] tables or one [grid]"),
    ("[grid]\nactivity_l2 = [0, 1e-5, 0]\n", "[grid] activity_l2: values repeat"),
    ("[grid]\nactivity_l2 = 1e-5\n", "[grid] activity_l2: must be a non-empty list of values, got 1e-05"),
    ("[serach.lr]\nlow = 1\n", "unknown tables serach (expected [fixed], [search.FIELD] or [grid])"),
    ("lr = [1, 2\n", "is not valid TOML"),
])
def test_bad_space_files_name_the_file_the_key_and_the_value(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as e:
        load_space(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_missing_space_file_names_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--space: .*nope.toml does not exist"):
        load_space(tmp_path / "nope.toml")


def test_the_guides_experiment_is_a_grid_holding_its_runs():
    """examples/tune/guide-grid.toml: the recipe of examples/activity_regularization.py, and a grid whose points
    include each of the guide's runs with the complete gradient (read from the guide's own script)."""
    space = load_space(ROOT / "examples" / "tune" / "guide-grid.toml")
    spec = importlib.util.spec_from_file_location("guide", ROOT / "examples" / "activity_regularization.py")
    guide = importlib.util.module_from_spec(spec)
    sys.modules["guide"] = guide  # its dataclasses look their module up by name
    try:
        spec.loader.exec_module(guide)
    finally:
        del sys.modules["guide"]
    recipe = dict(optimizer="nesterov", lr=0.05, momentum=0.9, weight_decay=0.0, schedule="cosine",
                  warmup_epochs=0.5, dropout=0.0, epochs=6, batch_size=64)
    assert {k: space.fixed[k] for k in recipe} == recipe  # the same recipe as guide.run_variant
    points = [{**space.fixed, **p} for p in grid_points(space)]
    assert space.grid_size() == len(points)
    runs = [v for v in guide.variants() if not v.incomplete]  # a wrong gradient is no TrainConfig setting
    assert len(runs) == 8
    for v in runs:
        want = {"weight_l2": v.weight_l2, "activity_l2": v.activity_l2, "activity_on": v.activity_on}
        assert any(all(p[k] == x for k, x in want.items()) for p in points), v.name


def test_parse_space_of_a_grid_samples_every_point_once():
    space = parse_space({"grid": {"activity_l2": [0.0, 1e-5], "activity_on": ["pre", "post"]}}, "inline")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space.grid, seed=0))
    seen = []
    study.optimize(lambda trial: seen.append(tuple(space.suggest(trial).items())) or 0.0, n_trials=4)
    assert sorted(seen) == sorted(tuple(p.items()) for p in grid_points(space))
