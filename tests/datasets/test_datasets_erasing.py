"""``RandomErasing`` against a slow, obviously-correct per-image loop of torchvision's rule, its documented draws,
and the statistics of the boxes it erases (fixed seeds)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from handgrad._validation import ArgumentError
from handgrad.datasets import Compose, RandomCropFlip, RandomErasing
from handgrad.datasets.augment import ERASING_ATTEMPTS, erasing_boxes, erasing_draws


def reference_erasing(x, draws):
    """torchvision's ``RandomErasing.get_params`` one image and one attempt at a time (Python scalars), then
    ``img[..., i:i + h, j:j + w] = 0`` for every channel."""
    N, C, H, W = x.shape
    out = x.copy()
    for n in range(N):
        if not draws["apply"][n]:
            continue
        for a in range(ERASING_ATTEMPTS):
            erase_area = H * W * float(draws["area"][n, a])
            aspect = float(draws["ratio"][n, a])
            h, w = round(math.sqrt(erase_area * aspect)), round(math.sqrt(erase_area / aspect))
            if not (h < H and w < W):
                continue
            i, j = int(draws["top"][n] * (H - h + 1)), int(draws["left"][n] * (W - w + 1))
            for c in range(C):
                for r in range(i, i + h):
                    for s in range(j, j + w):
                        out[n, c, r, s] = 0
            break
    return out


@pytest.mark.parametrize("shape, p, scale, ratio", [
    ((64, 1, 28, 28), 0.5, (0.02, 0.33), (0.3, 3.3)),
    ((16, 3, 32, 32), 1.0, (0.02, 0.33), (0.3, 3.3)),
    ((40, 2, 5, 7), 0.8, (0.02, 0.33), (0.3, 3.3)),
    ((40, 1, 6, 6), 1.0, (0.4, 1.0), (0.1, 10.0)),  # most attempts do not fit: some images keep everything
])
def test_matches_the_reference_loop(shape, p, scale, ratio):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = RandomErasing(p, scale, ratio)(x, np.random.default_rng(7))
    draws = erasing_draws(np.random.default_rng(7), shape[0], p, scale, ratio)  # the documented draws
    expected = reference_erasing(x, draws)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == x.dtype and not np.shares_memory(out, x)
    if scale[0] == 0.4:  # the case is meant to reach the no-box path, and the path that erases
        erased = (out != x).any(axis=(1, 2, 3))
        assert 0 < erased.sum() < shape[0]


def test_input_untouched_determinism_and_documented_draw_count():
    x = np.random.default_rng(1).standard_normal((32, 3, 8, 8)).astype(np.float32)
    before = x.copy()
    aug = RandomErasing(0.5)
    rng = np.random.default_rng(5)
    a = aug(x, rng)
    after_call = rng.random()
    rng = np.random.default_rng(5)
    erasing_draws(rng, 32, 0.5, aug.scale, aug.ratio)
    assert rng.random() == after_call  # it draws exactly what erasing_draws documents, whatever the outcome
    np.testing.assert_array_equal(a, aug(x, np.random.default_rng(5)))
    assert not np.array_equal(a, aug(x, np.random.default_rng(6)))
    np.testing.assert_array_equal(x, before)


def test_p_zero_is_a_copy_and_p_one_erases_every_image():
    x = np.random.default_rng(2).standard_normal((200, 1, 28, 28)).astype(np.float32) + 10  # no zero pixel
    kept = RandomErasing(0.0)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(kept, x)
    assert not np.shares_memory(kept, x)
    erased = RandomErasing(1.0)(x, np.random.default_rng(0))
    assert (erased == 0).any(axis=(1, 2, 3)).all()


def test_statistics_of_the_boxes():
    """20,000 images 28x28 at p = 0.5: the share erased is p (binomial, 4.5 sigma); every box comes from an area
    fraction in [0.02, 0.33] and a ratio h / w in [0.3, 3.3] (before rounding h and w to integers); the mean area
    fraction is near 0.175, the mean of U(0.02, 0.33); log h / w is centred (log-uniform on a near-symmetric
    range); zeroed pixels are exactly the boxes."""
    N, H, W, p = 20000, 28, 28, 0.5
    top, left, h, w = erasing_boxes(erasing_draws(np.random.default_rng(11), N, p, (0.02, 0.33), (0.3, 3.3)), H, W)
    erased = h > 0
    assert abs(erased.mean() - p) < 4.5 * math.sqrt(p * (1 - p) / N)
    h, w, top, left = h[erased], w[erased], top[erased], left[erased]
    assert (h < H).all() and (w < W).all() and (top + h <= H).all() and (left + w <= W).all() and (top >= 0).all()
    # h = round(h'), w = round(w') with h' w' = area * H * W and h' / w' = ratio
    assert ((h + 0.5) * (w + 0.5) >= 0.02 * H * W).all() and ((h - 0.5) * (w - 0.5) <= 0.33 * H * W).all()
    assert ((h + 0.5) / (w - 0.5) >= 0.3).all() and ((h - 0.5) / (w + 0.5) <= 3.3).all()
    assert 0.165 < (h * w / (H * W)).mean() < 0.185
    assert abs(np.log(h / w).mean()) < 0.03
    x = np.ones((N, 1, H, W), np.float32)
    top_all, left_all, h_all, w_all = erasing_boxes(erasing_draws(np.random.default_rng(11), N, p, (0.02, 0.33),
                                                                  (0.3, 3.3)), H, W)
    out = RandomErasing(p)(x, np.random.default_rng(11))
    assert np.count_nonzero(out == 0) == int((h_all * w_all).sum())


def test_compose_draws_in_order_from_one_generator():
    x = np.random.default_rng(3).standard_normal((20, 1, 28, 28)).astype(np.float32)
    crop, erase = RandomCropFlip(2), RandomErasing(0.5)
    rng = np.random.default_rng(4)
    expected = erase(crop(x, rng), rng)
    np.testing.assert_array_equal(Compose((crop, erase))(x, np.random.default_rng(4)), expected)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"p": 1.5}, ArgumentError, "RandomErasing: p must be <= 1, got 1.5"),
    ({"scale": (0.5, 0.2)}, ArgumentError, r"RandomErasing: scale\[1\] must be >= 0.5, got 0.2"),
    ({"scale": (0.1, 1.5)}, ArgumentError, r"RandomErasing: scale\[1\] must be <= 1, got 1.5"),
    ({"ratio": (0, 2)}, ArgumentError, r"RandomErasing: ratio\[0\] must be > 0.0, got 0.0"),
    ({"ratio": 2.0}, TypeError, r"RandomErasing: ratio must be a \(min, max\) pair, got 2.0"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        RandomErasing(**kwargs)


def test_compose_refuses_what_it_cannot_call():
    with pytest.raises(TypeError, match="non-empty tuple"):
        Compose(())
    with pytest.raises(TypeError, match=r"augmentations\[1\] must be callable"):
        Compose((RandomErasing(), 3))
