"""Random crops and horizontal flips of NCHW batches, the standard augmentation for CIFAR-10 and the MNISTs.

Each augmentation is called as ``augment(xb, rng) -> new array``: it draws from ``rng`` only (so a seeded
generator gives the same result), never modifies ``xb``, and keeps its shape and dtype.

All three share one kernel, ``crop_flip``:
``out[n, c, i, j] = xpad[n, c, top[n] + i, left[n] + (W - 1 - j if flip[n] else j)]``, where ``xpad`` is
``x`` zero-padded by ``padding`` on every side of H and W, and ``top, left`` lie in ``[0, 2 * padding]``.
"""
from __future__ import annotations

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
