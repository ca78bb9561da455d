"""Which convolution algorithm runs: im2col or Winograd, chosen by a kernel set (``conv_algorithm``).

Shared by the kernel sets and by ``Conv2D``'s validation of ``algorithm=``: the names (``ALGORITHMS``),
which geometries Winograd supports (``supported``, from ``winograd_transforms``) and the rule of ``"auto"``.
"""
from __future__ import annotations

from handgrad.kernels.winograd_transforms import supported

ALGORITHMS = ("auto", "im2col", "winograd")
# "auto" takes Winograd from this many input channels on: below, each point's product (T, C) @ (C, F) is too
# thin for BLAS and the transforms (per tile and channel) outweigh the multiplications saved. Set from
# ``python benchmarks/conv_algorithms.py`` (the table: ``docs/kernel-measurements.md``).
AUTO_MIN_CHANNELS = 16


def auto_algorithm(kernel_size, stride, C: int, F: int, fast: bool) -> str:
    """``"winograd"`` when ``supported``, ``fast`` (the kernel set's Winograd is meant to be fast) and
    ``C >= AUTO_MIN_CHANNELS``, else ``"im2col"``.

    The NumPy reference of Winograd is not meant to be fast, so the NumPy set passes ``fast=False``.
    """
    if fast and supported(kernel_size, stride) and C >= AUTO_MIN_CHANNELS:
        return "winograd"
    return "im2col"


def resolve(requested: str, kernel_size, stride, C: int, F: int, fast: bool) -> str:
    """The algorithm that runs for a requested one: ``"im2col"`` or ``"winograd"`` as asked, ``"auto"`` by
    ``auto_algorithm``."""
    return requested if requested != "auto" else auto_algorithm(kernel_size, stride, C, F, fast)


def forward(kernels, x, W, b, g):
    """``kernels.conv2d_forward(x, W, b, g)`` with its backward in the cache: ``(z, (backward, cache))``."""
    z, cache = kernels.conv2d_forward(x, W, b, g)
    return z, (kernels.conv2d_backward, cache)


def backward(dz, cache, g, input_grad: bool = True):
    """``(dW, db, dx)`` of a ``forward`` by the algorithm that ran it."""
    run_backward, inner = cache
    return run_backward(dz, inner, g, input_grad)
