import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from handgrad.training import Trainer, TrainingDiverged, load_checkpoint
from tests.training.synthetic import make_data, make_model, make_optimizer

ROOT = Path(__file__).resolve().parents[2]


def quiet_trainer(model, optimizer, run_dir=None, **kwargs):
    return Trainer(model, optimizer, batch_size=32, seed=5, run_dir=run_dir, progress=False, echo=lambda m: None,
                   augment=lambda xb, rng: xb + 0.01 * rng.standard_normal(xb.shape).astype(xb.dtype), **kwargs)


def train_uninterrupted(epochs=3):
    x, y = make_data()
    model = make_model()
    quiet_trainer(model, make_optimizer()).fit(x, y, (x[:60], y[:60]), epochs=epochs)
    return model.get_weights()


def test_training_learns_the_problem():
    x, y = make_data()
    model = make_model()
    history = quiet_trainer(model, make_optimizer()).fit(x, y, make_data(n=90, seed=1), epochs=3)
    assert history.rows[-1]["val"]["accuracy"] > 0.9 > history.rows[0]["train"]["accuracy"] - 0.5


def test_resume_continues_exactly(tmp_path):
    expected = train_uninterrupted()
    x, y = make_data()
    first = quiet_trainer(make_model(), make_optimizer(), run_dir=tmp_path)
    first.fit(x, y, (x[:60], y[:60]), epochs=1)
    resumed_model = make_model(seed=99)  # different initial weights: everything must come from the checkpoint
    resumed = quiet_trainer(resumed_model, make_optimizer(), run_dir=tmp_path)
    resumed.restore(tmp_path / "checkpoints" / "last.npz")
    assert resumed.epoch == 1 and len(resumed.history) == 1
    resumed.fit(x, y, (x[:60], y[:60]), epochs=3)
    for key, value in expected.items():
        assert resumed_model.parameters()[key].tobytes() == value.tobytes(), key
    assert [r["epoch"] for r in json.loads((tmp_path / "history.json").read_text())] == [1, 2, 3]


KILLABLE = textwrap.dedent("""
    import sys
    from handgrad.training import Trainer
    from tests.training.synthetic import make_data, make_model, make_optimizer
    from handgrad.datasets import Compose, RandomCropFlip, RandomErasing
    run_dir, mode, batchnorm = sys.argv[1], sys.argv[2], sys.argv[3] == "batchnorm"
    recipe = sys.argv[3] == "recipe"
    x, y = make_data()
    model, optimizer = make_model(batchnorm=batchnorm), make_optimizer()
    step = optimizer.step
    def announce(params, grads):
        step(params, grads)
        print(f"step {optimizer.iterations}", flush=True)
    optimizer.step = announce
    augment = lambda xb, rng: xb + 0.01 * rng.standard_normal(xb.shape).astype(xb.dtype)
    if recipe:  # the issue-25 flags: erasing after crop and flip, label smoothing, mirrored validation
        augment = Compose((RandomCropFlip(2), RandomErasing(0.5)))
    trainer = Trainer(model, optimizer, batch_size=32, seed=5, run_dir=run_dir, progress=False, echo=lambda m: None,
                      augment=augment, label_smoothing=0.1 if recipe else 0.0, tta_flip=recipe,
                      ema=0.9 if recipe else 0.0)
    if mode == "resume":
        trainer.restore(run_dir + "/checkpoints/last.npz")
    trainer.fit(x, y, (x[:60], y[:60]), epochs=3)
    print("done", flush=True)
""")


# batchnorm: moving statistics must survive too; recipe: random erasing, label smoothing, --tta-flip, --ema
@pytest.mark.parametrize("kind", ["plain", "batchnorm", "recipe"])
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path, kind):
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir), "fresh", kind], stdout=subprocess.PIPE,
                            text=True, env=env)
    for line in proc.stdout:  # 8 steps per epoch: step 12 is in the middle of epoch 2
        if line.strip() == "step 12":
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(run_dir / "checkpoints" / "last.npz").epoch == 1
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    done = subprocess.run([sys.executable, str(script), str(run_dir), "resume", kind], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout
    resumed = load_checkpoint(run_dir / "checkpoints" / "last.npz")
    assert resumed.epoch == 3
    reference = tmp_path / "reference"
    subprocess.run([sys.executable, str(script), str(reference), "fresh", kind], check=True, capture_output=True,
                   env=env, timeout=120)
    expected = load_checkpoint(reference / "checkpoints" / "last.npz")
    state_keys = {"dropout.generator"} | ({"batch_norm2d.moving_mean", "batch_norm2d.moving_variance",
                                           "batch_norm1d.moving_mean", "batch_norm1d.moving_variance"}
                                          if kind == "batchnorm" else set())
    assert set(expected.state) == set(resumed.state) == state_keys
    for key, value in {**expected.params, **expected.state}.items():
        assert resumed.model_state[key].tobytes() == value.tobytes(), key
    for key, value in expected.optimizer_state.items():
        assert np.array_equal(resumed.optimizer_state[key], value), key
    assert set(expected.ema) == set(resumed.ema) == (set(expected.params) if kind == "recipe" else set())
    for key, value in expected.ema.items():
        assert resumed.ema[key].tobytes() == value.tobytes(), key


def test_checkpoint_loads_without_pickle_and_holds_everything(tmp_path):
    x, y = make_data()
    trainer = quiet_trainer(make_model(), make_optimizer(), run_dir=tmp_path, meta={"config": {"answer": 42}})
    trainer.fit(x, y, (x[:60], y[:60]), epochs=2)
    with np.load(tmp_path / "checkpoints" / "last.npz", allow_pickle=False) as data:
        assert {"param/conv2d.W", "state/dropout.generator", "optim/iterations"} <= set(data.files)
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.npz")
    assert ckpt.epoch == 2 and ckpt.meta["config"] == {"answer": 42}
    assert set(ckpt.state) == {"dropout.generator"} and ckpt.state["dropout.generator"].dtype == np.uint64
    assert len(ckpt.meta["history"]) == 2
    assert (tmp_path / "checkpoints" / "best.npz").exists()
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "lr", "train/total", "train/data", "train/weight", "train/activity", "val/accuracy"} <= set(header)


def test_a_failed_checkpoint_write_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    x, y = make_data()
    trainer = quiet_trainer(make_model(), make_optimizer(), run_dir=tmp_path)
    trainer.fit(x, y, epochs=1)
    before = (tmp_path / "checkpoints" / "last.npz").read_bytes()

    def crash(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(x, y, epochs=2)
    assert (tmp_path / "checkpoints" / "last.npz").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.npz"]


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "last.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a handgrad checkpoint or is damaged"):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz")


def test_nan_guard_names_the_data_term_and_the_last_good_checkpoint(tmp_path):
    x, y = make_data()
    trainer = quiet_trainer(make_model(), make_optimizer(), run_dir=tmp_path)
    trainer.fit(x, y, epochs=1)
    key = next(iter(trainer.model.parameters()))
    trainer.model.parameters()[key].flat[0] = np.nan  # diverged weights (NaN in the data is refused up front)
    with pytest.raises(TrainingDiverged) as e:
        trainer.fit(x, y, epochs=2)
    message = str(e.value)
    assert "the data loss term is nan at epoch 2, step 1" in message
    assert f"last good checkpoint: {tmp_path / 'checkpoints' / 'last.npz'}" in message
    assert load_checkpoint(tmp_path / "checkpoints" / "last.npz").epoch == 1


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_nan_guard_names_the_activity_term():
    x, y = make_data()
    model = make_model(activity_l2=1.0)
    with pytest.raises(TrainingDiverged, match="the activity loss term is inf at epoch 1, step 1; "
                                               "no checkpoint was written yet"):
        quiet_trainer(model, make_optimizer()).fit(x * np.float32(1e21), y, epochs=1)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_activations_that_overflow_after_the_epoch_are_a_divergence_not_a_crash():
    """Weights that still give finite training losses but overflow float32 on the monitored batch (as a tuning
    trial with a too large learning rate did, at the end of an epoch) stop the run as diverged."""
    x, y = make_data()
    with pytest.raises(TrainingDiverged, match=r"the forward pass of the monitored batch is not finite \(.*overflowed "
                                               r"float32.*\) at epoch 1, after its last step; no checkpoint"):
        huge = np.clip(x, -1, 1) * np.float32(3e38)  # finite, but any sum of a few of them overflows
        quiet_trainer(make_model(), make_optimizer()).fit(x, y, epochs=1, x_monitor=huge)


def test_early_stopping_stops_when_validation_loss_stops_improving():
    x, y = make_data()
    x_val, _ = make_data(n=60, seed=3)
    y_val = np.random.default_rng(0).integers(0, 3, size=60)  # labels unrelated to the images
    trainer = quiet_trainer(make_model(), make_optimizer(epochs=20), early_stopping=2)
    history = trainer.fit(x, y, (x_val, y_val), epochs=20)
    assert trainer.stopped_early and len(history) < 20
    val = history.column("val/data")
    best = int(np.argmin(val))
    assert len(val) == best + 3  # stopped two epochs after the best one


def test_checkpoint_without_layer_state_is_a_clear_error(tmp_path):
    from handgrad.training import save_checkpoint

    model = make_model()
    path = save_checkpoint(tmp_path / "old.npz", model.parameters(), {}, {"epoch": 1})  # as before layer state
    with pytest.raises(ValueError, match=r"old.npz does not fit this model \(it holds no layer state: written by an "
                                         r"older handgrad\?\): load_state_dict: missing \['dropout.generator'\]"):
        quiet_trainer(make_model(), make_optimizer()).restore(path)
