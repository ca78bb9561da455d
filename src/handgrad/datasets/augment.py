"""Random crops, horizontal flips and random erasing of NCHW batches, the standard augmentations for CIFAR-10 and
the MNISTs.

Each augmentation is called as ``augment(xb, rng) -> new array``: it draws from ``rng`` only (so a seeded
generator gives the same result), never modifies ``xb``, and keeps its shape and dtype.

The crops and flips share one kernel, ``crop_flip``:
``out[n, c, i, j] = xpad[n, c, top[n] + i, left[n] + (W - 1 - j if flip[n] else j)]``, where ``xpad`` is
``x`` zero-padded by ``padding`` on every side of H and W, and ``top, left`` lie in ``[0, 2 * padding]``.
``RandomErasing`` draws boxes (``erasing_boxes``) and zeroes them (``erase``); ``Compose`` chains augmentations,
each drawing from the same generator in turn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from handgrad._validation import ShapeError, check_int, check_number


def crop_flip(x: np.ndarray, top: np.ndarray, left: np.ndarray, flip: np.ndarray | None, padding: int) -> np.ndarray:
    """Crop window ``(top[n], left[n])`` of the zero-padded image ``n``, mirrored where ``flip[n]``.

    Shape:
        ``x``: ``(N, C, H, W)``; ``top``, ``left``: ints ``(N,)`` in ``[0, 2 * padding]``; ``flip``: bool
        ``(N,)`` or None; returns a new ``(N, C, H, W)`` array of ``x``'s dtype.
    """
    N, C, H, W = x.shape
    P = padding
    if P:
        xpad = np.zeros((N, C, H + 2 * P, W + 2 * P), dtype=x.dtype)
        xpad[:, :, P:P + H, P:P + W] = x
    else:
        xpad = x
    windows = sliding_window_view(xpad, (H, W), axis=(2, 3))  # (N, C, 2P+1, 2P+1, H, W), a view
    out = windows[np.arange(N), :, top, left]  # (N, C, H, W), a copy: never aliases x
    if flip is not None and flip.any():
        out[flip] = out[flip][..., ::-1]
    return out


def _check_batch(owner: str, x, rng) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        got = f"shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ShapeError(f"{owner}: expects an NCHW batch (N, C, H, W), got {got}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{owner}: rng must be a np.random.Generator, got {rng!r}")


@dataclass(frozen=True)
class RandomCrop:
    """Zero-pad each image by ``padding`` pixels, then take a random crop of the original size.

    Args:
        padding: pixels added on each side of H and W (default 4); 0 returns an unchanged copy.

    Draws ``top = rng.integers(0, 2 * padding + 1, N)``, then ``left`` the same way.
    """

    padding: int = 4

    def __post_init__(self):
        check_int("RandomCrop", "padding", self.padding, minimum=0)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_batch("RandomCrop", x, rng)
        top, left = _offsets(rng, len(x), self.padding)
        return crop_flip(x, top, left, None, self.padding)


@dataclass(frozen=True)
class RandomHorizontalFlip:
    """Mirror each image left-right (``out[..., j] = x[..., W - 1 - j]``) with probability ``p``.

    Args:
        p: probability of a flip, in [0, 1] (default 0.5).

    Draws ``flip = rng.random(N) < p``.
    """

    p: float = 0.5

    def __post_init__(self):
        check_number("RandomHorizontalFlip", "p", self.p, minimum=0, maximum=1)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_batch("RandomHorizontalFlip", x, rng)
        zeros = np.zeros(len(x), dtype=np.intp)
        return crop_flip(x, zeros, zeros, rng.random(len(x)) < self.p, 0)


@dataclass(frozen=True)
class RandomCropFlip:
    """``RandomCrop(padding)`` then, if ``flip``, ``RandomHorizontalFlip(0.5)``, in one pass.

    Args:
        padding: as in ``RandomCrop`` (default 4).
        flip: also flip each image with probability 0.5 (default True).

    Draws ``top``, ``left`` as ``RandomCrop`` does, then ``flip = rng.random(N) < 0.5``.
    """

    padding: int = 4
    flip: bool = True

    def __post_init__(self):
        check_int("RandomCropFlip", "padding", self.padding, minimum=0)
        if not isinstance(self.flip, bool):
            raise TypeError(f"RandomCropFlip: flip must be a bool, got {self.flip!r} ({type(self.flip).__name__})")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_batch("RandomCropFlip", x, rng)
        top, left = _offsets(rng, len(x), self.padding)
        flip = rng.random(len(x)) < 0.5 if self.flip else None
        return crop_flip(x, top, left, flip, self.padding)


def _offsets(rng: np.random.Generator, n: int, padding: int) -> tuple[np.ndarray, np.ndarray]:
    top = rng.integers(0, 2 * padding + 1, size=n)
    left = rng.integers(0, 2 * padding + 1, size=n)
    return top, left


# torchvision's RandomErasing tries this many boxes per image and erases nothing when none fits.
ERASING_ATTEMPTS = 10


def erasing_draws(rng: np.random.Generator, n: int, p: float, scale, ratio) -> dict:
    """The random numbers of ``RandomErasing`` for ``n`` images, in this order (the documented draws):
    ``apply = rng.random(n) < p``; ``area = rng.uniform(*scale, (n, 10))``; ``ratio = exp(rng.uniform(log r0,
    log r1, (n, 10)))``; ``top = rng.random(n)``; ``left = rng.random(n)`` (fractions of the free range).
    The same number is drawn whatever the images and outcomes, so later draws do not depend on them."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    return {"apply": rng.random(n) < p,
            "area": rng.uniform(scale[0], scale[1], (n, ERASING_ATTEMPTS)),
            "ratio": np.exp(rng.uniform(log_ratio[0], log_ratio[1], (n, ERASING_ATTEMPTS))),
            "top": rng.random(n), "left": rng.random(n)}


def erasing_boxes(draws: dict, H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(top, left, h, w)`` of the box each image loses (``h = w = 0``: none), torchvision's rule vectorized.

    Attempt ``a`` of image ``n``: ``h = round(sqrt(H W area[n, a] ratio[n, a]))``, ``w = round(sqrt(H W area[n, a]
    / ratio[n, a]))`` (round half to even, as Python's ``round``); the first attempt with ``h < H`` and ``w < W``
    is the box, placed at ``top = floor(top[n] * (H - h + 1))``, ``left = floor(left[n] * (W - w + 1))``.

    Shape: every result is an int ``(n,)`` array.
    """
    target = H * W * draws["area"]  # (n, attempts)
    h = np.rint(np.sqrt(target * draws["ratio"])).astype(np.intp)
    w = np.rint(np.sqrt(target / draws["ratio"])).astype(np.intp)
    fits = (h < H) & (w < W)
    first = fits.argmax(axis=1)  # (n,): the first attempt that fits (0 when none does; masked below)
    rows = np.arange(len(first))
    erased = draws["apply"] & fits[rows, first]
    h, w = np.where(erased, h[rows, first], 0), np.where(erased, w[rows, first], 0)
    # min(): a fraction within 2**-53 of 1 must not round the product up to H - h + 1.
    top = np.minimum((draws["top"] * (H - h + 1)).astype(np.intp), H - h)
    left = np.minimum((draws["left"] * (W - w + 1)).astype(np.intp), W - w)
    return top, left, h, w


def erase(x: np.ndarray, top: np.ndarray, left: np.ndarray, h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A copy of ``x`` with ``out[n, :, top[n]:top[n] + h[n], left[n]:left[n] + w[n]] = 0`` (every channel).

    Shape: ``x`` ``(N, C, H, W)``; ``top``, ``left``, ``h``, ``w``: ints ``(N,)``; returns a new ``(N, C, H, W)``.
    """
    N, C, H, W = x.shape
    rows, cols = np.arange(H), np.arange(W)
    inside_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (N, H)
    inside_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (N, W)
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])  # (N, H, W)
    return np.where(keep[:, None], x, x.dtype.type(0))  # (N, C, H, W); exact zeros, never -0.0


@dataclass(frozen=True)
class RandomErasing:
    """Erase a random rectangle of each image with probability ``p`` (Zhong et al., 2017; torchvision's
    ``RandomErasing(p, scale, ratio, value=0)`` on normalized images).

    Args:
        p: probability that an image loses a box, in [0, 1] (default 0.5).
        scale: range of the box's area as a fraction of ``H * W`` (default (0.02, 0.33)).
        ratio: range of the box's aspect ratio ``h / w``, drawn log-uniformly (default (0.3, 3.3)).

    The box is filled with 0 in every channel: on images normalized with the training statistics that is the
    data set's mean pixel, the value the crop's padding already uses, so erasing adds no new intensity.
    Draws as ``erasing_draws`` documents; the boxes follow ``erasing_boxes``.
    """

    p: float = 0.5
    scale: tuple = (0.02, 0.33)
    ratio: tuple = (0.3, 3.3)

    def __post_init__(self):
        check_number("RandomErasing", "p", self.p, minimum=0, maximum=1)
        for name, lo_min in (("scale", 0.0), ("ratio", 0.0)):
            pair = getattr(self, name)
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"RandomErasing: {name} must be a (min, max) pair, got {pair!r}")
            lo = check_number("RandomErasing", f"{name}[0]", pair[0], minimum=lo_min, strict_min=True)
            check_number("RandomErasing", f"{name}[1]", pair[1], minimum=lo)
        check_number("RandomErasing", "scale[1]", self.scale[1], maximum=1)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_batch("RandomErasing", x, rng)
        N, C, H, W = x.shape
        top, left, h, w = erasing_boxes(erasing_draws(rng, N, self.p, self.scale, self.ratio), H, W)
        return erase(x, top, left, h, w)


@dataclass(frozen=True)
class Compose:
    """Apply ``augmentations`` in order, each drawing from the same generator after the one before it.

    Args:
        augmentations: a non-empty tuple of ``augment(xb, rng) -> new array`` callables.
    """

    augmentations: tuple

    def __post_init__(self):
        if not isinstance(self.augmentations, tuple) or not self.augmentations:
            raise TypeError(f"Compose: augmentations must be a non-empty tuple, got {self.augmentations!r}")
        for i, aug in enumerate(self.augmentations):
            if not callable(aug):
                raise TypeError(f"Compose: augmentations[{i}] must be callable(xb, rng), got {aug!r}")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_batch("Compose", x, rng)
        for aug in self.augmentations:
            x = aug(x, rng)
        return x
