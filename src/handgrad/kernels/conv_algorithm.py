"""Which convolution algorithm runs: im2col or Winograd, chosen by a kernel set (``conv_algorithm``).

Shared by the kernel sets and by ``Conv2D``'s validation of ``algorithm=``: the names (``ALGORITHMS``),
which geometries Winograd supports (``supported``, from ``winograd_transforms``) and the rule of ``"auto"``.
"""
from __future__ import annotations

from handgrad.kernels.winograd_transforms import supported

ALGORITHMS = ("auto", "im2col", "winograd")
# "auto" takes Winograd from this many input channels on: below, each point's product (T, C) @ (C, F) is too
# thin for BLAS and the transforms (per tile and channel) outweigh the multiplications saved. Measured by
# ``python benchmarks/conv_algorithms.py`` (2 cores of an Intel Xeon with AVX-512, batch 64, forward + backward,
# im2col / Winograd ms): 5x5 32->64 on 14x14: 27.6 / 13.1; 16x16: 36.3 / 12.3; 64->64 on 8x8: 20.5 / 8.3;
# 16->32 on 14x14: 8.1 / 6.2; 8->32: 5.6 / 5.7; 3->32 on 32x32: 12.9 / 10.2 (with its input gradient; as the
# reference network's first layer, without one, and with 1 channel, Winograd made the whole training step
# slower: ``throughput.py --algorithm auto winograd``); 3x3 32->64 on 16x16: 13.1 / 7.2; 3x3 16->32: 5.3 / 4.0.
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
