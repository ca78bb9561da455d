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
