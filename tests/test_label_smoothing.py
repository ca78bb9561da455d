"""``softmax_cross_entropy(label_smoothing=eps)``: PyTorch's ``cross_entropy(label_smoothing=eps)`` (value and
autograd gradient), central differences in float64, the plain loss at ``eps = 0``, and ``Sequential.loss``'s data
term with it."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import handgrad as hg
from handgrad.errors import ArgumentError, ArgumentTypeError
from handgrad.losses import log_softmax, softmax_cross_entropy
from tests.torch_oracle import t

EPS = [0.0, 0.05, 0.1, 0.5, 0.9]


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("N, K", [(7, 10), (3, 2), (1, 1)])
def test_matches_torch_label_smoothing(rng, eps, N, K):
    logits, y = 3 * rng.standard_normal((N, K)), rng.integers(0, K, N)
    loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing=eps)
    tl = t(logits, grad=True)
    expected = F.cross_entropy(tl, torch.tensor(y), label_smoothing=eps)
    expected.backward()
    assert abs(loss - expected.item()) <= 1e-12 * max(1.0, abs(loss))
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("eps", EPS)
def test_gradient_matches_central_differences(rng, eps):
    logits, y = 2 * rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    _, dlogits = softmax_cross_entropy(logits, y, eps)
    numerical = np.zeros_like(logits)
    for i in np.ndindex(logits.shape):
        plus, minus = logits.copy(), logits.copy()
        plus[i] += 1e-6
        minus[i] -= 1e-6
        numerical[i] = (softmax_cross_entropy(plus, y, eps)[0] - softmax_cross_entropy(minus, y, eps)[0]) / 2e-6
    np.testing.assert_allclose(dlogits, numerical, rtol=1e-7, atol=1e-9)


def test_formula_is_the_smoothed_target(rng):
    """The closed form ``-(1/N) sum q log softmax`` with ``q = (1 - eps) onehot + eps / K``, ``(softmax - q) / N``."""
    N, K, eps = 6, 5, 0.2
    logits, y = rng.standard_normal((N, K)), rng.integers(0, K, N)
    q = (1 - eps) * np.eye(K)[y] + eps / K
    loss, dlogits = softmax_cross_entropy(logits, y, eps)
    assert loss == pytest.approx(-(q * log_softmax(logits)).sum() / N, rel=1e-13)
    np.testing.assert_allclose(dlogits, (np.exp(log_softmax(logits)) - q) / N, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eps_zero_is_the_plain_loss_bit_for_bit(rng, dtype):
    logits, y = rng.standard_normal((9, 10)).astype(dtype), rng.integers(0, 10, 9)
    logp = log_softmax(logits)
    plain_loss = -float(np.sum(logp[np.arange(9), y], dtype=np.float64)) / 9
    plain_grad = np.exp(logp)
    plain_grad[np.arange(9), y] -= 1
    plain_grad /= dtype(9)
    loss, dlogits = softmax_cross_entropy(logits, y, 0.0)
    assert loss == plain_loss and dlogits.dtype == dtype
    assert dlogits.tobytes() == plain_grad.tobytes()
    assert softmax_cross_entropy(logits, y)[1].tobytes() == plain_grad.tobytes()


@pytest.mark.parametrize("eps, error, message", [
    (1.0, ArgumentError, "label_smoothing must be < 1.0, got 1.0"),
    (-0.1, ArgumentError, "label_smoothing must be >= 0.0, got -0.1"),
    (float("nan"), ArgumentError, "label_smoothing must be finite, got nan"),
    ("0.1", ArgumentTypeError, "label_smoothing must be a number, got '0.1'"),
])
def test_bad_eps_is_refused_by_name(eps, error, message):
    with pytest.raises(error, match="softmax_cross_entropy: " + message):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 1], eps)
    model = hg.Sequential([hg.Flatten(), hg.Dense(3)], input_shape=(1, 2, 2))
    for method in (model.loss, model.loss_terms):
        with pytest.raises(error, match=message):
            method(np.zeros((2, 1, 2, 2), np.float32), np.array([0, 1]), label_smoothing=eps)


def small_model():
    layers = [hg.Flatten(), hg.Dense(6, kernel_regularizer=hg.L2(1e-3)), hg.ELU(), hg.Dense(4)]
    return hg.Sequential(layers, input_shape=(1, 3, 3), seed=3, dtype=np.float64)


def test_sequential_data_term_and_gradient_with_smoothing(rng):
    """The data term is the smoothed loss of the logits; every parameter's gradient of the total matches central
    differences in float64 (weight penalty included); the weight term does not change with eps."""
    model = small_model()
    x, y = rng.standard_normal((5, 1, 3, 3)), rng.integers(0, 4, 5)
    plain = model.loss_terms(x, y)
    terms, grads = model.loss(x, y, training=False, label_smoothing=0.3)
    assert terms.data == pytest.approx(softmax_cross_entropy(model.forward(x), y, 0.3)[0], rel=1e-14)
    assert terms.data != pytest.approx(plain.data) and terms.weight == plain.weight
    assert model.loss_terms(x, y, label_smoothing=0.3).data == terms.data
    for key, p in model.parameters().items():
        numerical = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + 1e-6
            plus = model.loss_terms(x, y, label_smoothing=0.3).total
            p[i] = old - 1e-6
            minus = model.loss_terms(x, y, label_smoothing=0.3).total
            p[i] = old
            numerical[i] = (plus - minus) / 2e-6
        np.testing.assert_allclose(grads[key], numerical, rtol=1e-6, atol=1e-9, err_msg=key)
