"""The trainer's ``label_smoothing`` (the loss it minimizes) and ``evaluate(tta_flip=True)`` (mirrored-image
averaging), each against a loop written out by hand."""
import numpy as np
import pytest

from handgrad.datasets import Compose, RandomCropFlip, RandomErasing, minibatches
from handgrad.training import Trainer
from handgrad.training.trainer import evaluate
from tests.training.synthetic import make_data, make_model, make_optimizer


def test_trainer_minimizes_the_smoothed_loss_bit_for_bit():
    x, y = make_data()
    augment = Compose((RandomCropFlip(2), RandomErasing(0.5)))
    model = make_model()
    Trainer(model, make_optimizer(), batch_size=32, seed=5, progress=False, echo=lambda m: None, augment=augment,
            monitor=False, label_smoothing=0.2).fit(x, y, epochs=1)
    manual, optimizer = make_model(), make_optimizer()
    for xb, yb in minibatches(x, y, 32, rng=np.random.default_rng([5, 0]), augment=augment):
        manual.forward_backward(xb, yb, training=True, label_smoothing=0.2)
        optimizer.step(manual.parameters(), manual.gradients())
    plain = make_model()
    Trainer(plain, make_optimizer(), batch_size=32, seed=5, progress=False, echo=lambda m: None, augment=augment,
            monitor=False).fit(x, y, epochs=1)
    for key, value in manual.parameters().items():
        assert model.parameters()[key].tobytes() == value.tobytes(), key
        assert not np.array_equal(plain.parameters()[key], value), key  # eps reached the loss


def softmax64(logits):
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def test_tta_flip_averages_the_probabilities_of_image_and_mirror():
    x, y = make_data(n=130, seed=2)
    model = make_model(activity_l2=1e-3)
    result = evaluate(model, x, y, batch_size=50, tta_flip=True)
    p = (softmax64(model.forward(x)) + softmax64(model.forward(np.ascontiguousarray(x[..., ::-1])))) / 2
    assert result["accuracy"] == np.mean(p.argmax(axis=1) == y)
    np.testing.assert_array_equal(result["predictions"], p.argmax(axis=1))
    assert result["data"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])), rel=1e-5)
    activity = np.mean([model.loss_terms(x, y).activity, model.loss_terms(x[..., ::-1].copy(), y).activity])
    assert result["activity"] == pytest.approx(activity, rel=1e-5)
    assert result["total"] == pytest.approx(result["data"] + result["weight"] + result["activity"])
    plain = evaluate(model, x, y, batch_size=50)
    assert result["data"] != pytest.approx(plain["data"], rel=1e-3)  # the mirrors changed something


def test_tta_flip_of_mirror_symmetric_images_is_the_plain_evaluation():
    x, y = make_data(n=60, seed=3)
    x = (x + x[..., ::-1]) / 2  # symmetric: the mirror is the image itself
    model = make_model()
    plain, tta = evaluate(model, x, y), evaluate(model, x, y, tta_flip=True)
    assert tta["accuracy"] == plain["accuracy"]
    assert tta["data"] == pytest.approx(plain["data"], rel=1e-5)


def test_trainer_validates_with_tta_flip():
    x, y = make_data()
    xv, yv = make_data(n=90, seed=1)
    model = make_model()
    history = Trainer(model, make_optimizer(), batch_size=32, seed=5, progress=False, echo=lambda m: None,
                      monitor=False, tta_flip=True).fit(x, y, (xv, yv), epochs=1)
    expected = evaluate(model, xv, yv, tta_flip=True)
    assert history.rows[-1]["val"]["data"] == expected["data"]
    assert history.rows[-1]["val"]["data"] != evaluate(model, xv, yv)["data"]


def test_weight_ema_matches_torch_get_ema_avg_fn():
    """PyTorch's ``AveragedModel`` with ``get_ema_avg_fn``: the first update copies, then
    ``decay * ema + (1 - decay) * p``; float64, 20 steps."""
    import torch
    from torch.optim.swa_utils import get_ema_avg_fn

    from handgrad.training.ema import WeightEMA

    rng = np.random.default_rng(0)
    ema, fn = WeightEMA(0.9), get_ema_avg_fn(0.9)
    params = {"a.W": rng.standard_normal((3, 4)), "a.b": rng.standard_normal(4)}
    expected = None
    for step in range(20):
        for p in params.values():
            p += rng.standard_normal(p.shape)
        ema.update(params)
        current = {k: torch.tensor(v) for k, v in params.items()}
        expected = ({k: v.clone() for k, v in current.items()} if expected is None else
                    {k: fn(expected[k], current[k], step) for k in current})
        assert not np.shares_memory(ema.averages["a.W"], params["a.W"])
        for k in params:
            np.testing.assert_allclose(ema.averages[k], expected[k].numpy(), rtol=1e-14, atol=1e-15)
    live = {k: v.copy() for k, v in params.items()}
    with pytest.raises(RuntimeError), ema.applied(params):
        for k in params:
            assert params[k].tobytes() == ema.averages[k].tobytes()
        raise RuntimeError  # the live weights come back even so
    for k in params:
        assert params[k].tobytes() == live[k].tobytes()


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, float("nan")])
def test_weight_ema_refuses_a_bad_decay(decay):
    from handgrad.errors import ArgumentError
    from handgrad.training.ema import WeightEMA

    with pytest.raises(ArgumentError, match="WeightEMA: decay must be"):
        WeightEMA(decay)


def test_trainer_with_ema_validates_and_keeps_best_with_the_averaged_weights(tmp_path):
    from handgrad.errors import RunFileError
    from handgrad.training import load_checkpoint

    x, y = make_data()
    xv, yv = make_data(n=90, seed=1)
    model = make_model()
    trainer = Trainer(model, make_optimizer(), batch_size=32, seed=5, progress=False, echo=lambda m: None,
                      monitor=False, ema=0.8, run_dir=tmp_path)
    history = trainer.fit(x, y, (xv, yv), epochs=1)
    averaged = make_model()
    averaged.set_weights(trainer.ema.averages)
    for layer, twin in zip(model.layers, averaged.layers):  # the moving statistics stay the live model's
        for name, value in layer.state.items():
            twin.state[name][...] = value
    assert history.rows[-1]["val"]["data"] == evaluate(averaged, xv, yv)["data"]
    assert history.rows[-1]["val"]["data"] != evaluate(model, xv, yv)["data"]
    best, last = load_checkpoint(tmp_path / "checkpoints" / "best.npz"), load_checkpoint(tmp_path / "checkpoints"
                                                                                        / "last.npz")
    for key, value in model.parameters().items():
        assert best.params[key].tobytes() == trainer.ema.averages[key].tobytes(), key
        assert last.params[key].tobytes() == value.tobytes(), key
        assert last.ema[key].tobytes() == trainer.ema.averages[key].tobytes(), key
    assert not best.ema
    plain = Trainer(make_model(), make_optimizer(), batch_size=32, seed=5, progress=False, echo=lambda m: None,
                    monitor=False, run_dir=tmp_path / "plain")
    plain.fit(x, y, (xv, yv), epochs=1)
    resumed = Trainer(make_model(), make_optimizer(), progress=False, echo=lambda m: None, monitor=False, ema=0.8)
    with pytest.raises(RunFileError, match="holds no EMA weights"):
        resumed.restore(tmp_path / "plain" / "checkpoints" / "last.npz")
