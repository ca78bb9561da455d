"""Random crop and flip against a slow, obviously-correct per-image reference."""
from __future__ import annotations

import numpy as np
import pytest

from handgrad._validation import ShapeError
from handgrad.datasets import RandomCrop, RandomCropFlip, RandomHorizontalFlip
from handgrad.datasets.augment import crop_flip


def reference_crop_flip(x, top, left, flip, padding):
    """np.pad, slice, mirror: one image at a time."""
    N, C, H, W = x.shape
    out = np.empty_like(x)
    for n in range(N):
        padded = np.pad(x[n], ((0, 0), (padding, padding), (padding, padding)))
        crop = padded[:, top[n]:top[n] + H, left[n]:left[n] + W]
        out[n] = crop[:, :, ::-1] if flip is not None and flip[n] else crop
    return out


@pytest.mark.parametrize("shape, padding", [((16, 1, 28, 28), 4), ((9, 3, 32, 32), 4), ((5, 2, 7, 5), 3),
                                            ((4, 1, 6, 6), 0)])
def test_crop_flip_matches_reference(shape, padding):
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    N = shape[0]
    top, left = rng.integers(0, 2 * padding + 1, N), rng.integers(0, 2 * padding + 1, N)
    flip = rng.random(N) < 0.5
    np.testing.assert_array_equal(crop_flip(x, top, left, flip, padding), reference_crop_flip(x, top, left, flip,
                                                                                              padding))
    np.testing.assert_array_equal(crop_flip(x, top, left, None, padding), reference_crop_flip(x, top, left, None,
                                                                                              padding))


@pytest.mark.parametrize("aug", [RandomCrop(4), RandomHorizontalFlip(), RandomCropFlip(4), RandomCropFlip(2, False)])
def test_shape_dtype_determinism_and_input_untouched(aug):
    x = np.random.default_rng(1).random((32, 3, 32, 32), dtype=np.float32)
    before = x.copy()
    a = aug(x, np.random.default_rng(5))
    b = aug(x, np.random.default_rng(5))
    c = aug(x, np.random.default_rng(6))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert not np.shares_memory(a, x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, before)


def test_documented_draws():
    x = np.random.default_rng(1).random((10, 1, 8, 8), dtype=np.float32)
    rng = np.random.default_rng(3)
    top, left = rng.integers(0, 9, 10), rng.integers(0, 9, 10)
    flip = rng.random(10) < 0.5
    np.testing.assert_array_equal(RandomCropFlip(4)(x, np.random.default_rng(3)),
                                  reference_crop_flip(x, top, left, flip, 4))


def test_padding_zero_without_flip_is_identity():
    x = np.random.default_rng(2).random((8, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(RandomCropFlip(padding=0, flip=False)(x, np.random.default_rng(0)), x)
    np.testing.assert_array_equal(RandomCrop(padding=0)(x, np.random.default_rng(0)), x)


def test_flip_is_exact_mirror_with_probability_one_half():
    x = np.random.default_rng(3).random((400, 2, 5, 7), dtype=np.float32)
    out = RandomHorizontalFlip()(x, np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, xi[:, :, ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ kept)  # each image is either itself or its exact mirror
    assert 150 < flipped.sum() < 250
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x, np.random.default_rng(0)), x[..., ::-1])


def test_crop_shifts_content_and_pads_with_zeros():
    x = np.ones((200, 1, 4, 4), dtype=np.float32)
    out = RandomCrop(padding=2)(x, np.random.default_rng(0))
    zeros_per_image = (out == 0).sum(axis=(1, 2, 3))
    assert zeros_per_image.min() == 0 and zeros_per_image.max() == 16 - 4  # a 2x2 corner survives at worst
    assert set(np.unique(out)) <= {0.0, 1.0}


@pytest.mark.parametrize("make, message", [
    (lambda: RandomCrop(-1), "padding must be >= 0, got -1"),
    (lambda: RandomCropFlip(padding=1.5), "padding must be an integer"),
    (lambda: RandomCropFlip(flip="yes"), "flip must be a bool"),
    (lambda: RandomHorizontalFlip(p=1.5), "p must be <= 1"),
])
def test_bad_construction(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_bad_call():
    with pytest.raises(ShapeError, match=r"RandomCropFlip: expects an NCHW batch \(N, C, H, W\), got shape \(28, 28\)"):
        RandomCropFlip()(np.zeros((28, 28)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a np.random.Generator, got 0"):
        RandomCropFlip()(np.zeros((1, 1, 28, 28)), 0)
