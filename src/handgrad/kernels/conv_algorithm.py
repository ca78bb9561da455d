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


class Convolutions:
    """A kernel set's convolution: its im2col and Winograd kernels (modules with ``conv2d_forward`` and
    ``conv2d_backward``) behind one ``algorithm``/``forward``/``backward``; ``fast_winograd`` says whether
    "auto" may take Winograd (the NumPy reference of Winograd is not meant to be fast)."""

    def __init__(self, im2col, winograd, *, fast_winograd: bool):
        self._kernels = {"im2col": im2col, "winograd": winograd}
        self.fast_winograd = fast_winograd

    def algorithm(self, requested: str, kernel_size, stride, C: int, F: int) -> str:
        """``"im2col"`` or ``"winograd"`` as requested; ``"auto"`` by ``auto_algorithm``."""
        if requested != "auto":
            return requested
        return auto_algorithm(kernel_size, stride, C, F, self.fast_winograd)

    def forward(self, x, W, b, g, algorithm: str = "im2col", **options):
        """``z = conv(x, W) + b`` by ``algorithm``: ``(z, cache)``, the cache holding the algorithm's backward.
        ``options``: the kernels' own (the numba set's ``epilogue``, which its fused steps pass)."""
        kernels = self._kernels[algorithm]
        z, cache = kernels.conv2d_forward(x, W, b, g, **options)
        return z, (kernels.conv2d_backward, cache)

    @staticmethod
    def backward(dz, cache, g, input_grad: bool = True):
        """``(dW, db, dx)`` of a ``forward``, by the algorithm that ran it."""
        run_backward, inner = cache
        return run_backward(dz, inner, g, input_grad)
