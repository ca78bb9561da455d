"""The numba kernel set: the NumPy set's interface (``handgrad.kernels.numpy``) on fused, multi-threaded loops.

Importing it imports numba (``handgrad.kernels.backend`` does it lazily and falls back to the NumPy set when
numba is missing). Each kernel computes the NumPy set's result (equal up to float rounding, bit for bit for
the optimizer updates; ``tests/kernels``, ``tests/optim/test_fused_updates.py``):

- ``ops``: im2col convolution, dense, max pooling, ELU and the fused ELU + max pooling on numba ``loops``,
  the thread team (``handgrad.kernels.threads``), recycled ``buffers`` and channels-last ``layout``;
- ``winograd``: Winograd convolution on the loops of ``winograd_loops6`` (6x6 tiles, 3x3 kernels) and
  ``winograd_loops8`` (8x8 tiles, 5x5 kernels); "auto" takes it from ``AUTO_MIN_CHANNELS`` input channels
  (``handgrad.kernels.conv_algorithm``);
- ``optim``: each optimizer update as one fused pass (the NumPy set's for arrays it does not suit);
- ``batch_norm``: batch normalization as two passes per direction over blocks of channels;
- ``dropout``: the training mask drawn by ``pcg64`` (NumPy's PCG64 in numba, the same values), split over
  the threads;
- ``fusion``: the rules of ``fusion_plan`` (an unregularized ELU before a max pooling runs as one step, and
  with a plain Conv2D before them as the convolution's epilogue, chunk by chunk);
- ``pass_scope``: a whole pass with BLAS on one thread (``threads.single_threaded_blas``), so that its kernels
  do not lower and restore BLAS's thread count one by one;
- average pooling and the standardization of LayerNorm and GroupNorm are the NumPy set's.
"""
from __future__ import annotations

from handgrad.kernels import INTERFACE
from handgrad.kernels import fusion as _fusion
from handgrad.kernels import threads as _threads
from handgrad.kernels.numba import fusion, ops, winograd
from handgrad.kernels.numba.batch_norm import batch_norm_backward, batch_norm_forward
from handgrad.kernels.numba.dropout import dropout_forward
from handgrad.kernels.numba.ops import (
    dense_backward,
    dense_forward,
    elu_backward,
    elu_forward,
    max_pool_backward,
    max_pool_forward,
)
from handgrad.kernels.numba.optim import adam_update, momentum_update, rmsprop_update, sgd_update
from handgrad.kernels.numpy import avg_pool_backward, avg_pool_forward, standardize, standardize_backward

NAME = "numba"
_convolutions = fusion.CONVOLUTIONS  # one dispatcher: the fused steps run the same kernels
conv_algorithm = _convolutions.algorithm  # (requested, kernel_size, stride, C, F) -> "im2col" | "winograd"
conv2d_forward = _convolutions.forward  # (x, W, b, g, algorithm) -> (z, cache)
conv2d_backward = _convolutions.backward  # (dz, cache, g, input_grad) -> (dW, db, dx)


def fusion_plan(layers) -> tuple:
    """The steps of ``layers``: consecutive layers that a rule of ``fusion.RULES`` matches run as one."""
    return _fusion.plan(layers, fusion.RULES)


def pass_scope():
    """``with pass_scope():`` around a pass (a model's forward or backward, an optimizer's step): BLAS on one
    thread throughout (the team supplies the parallelism), set once instead of around each kernel. Restoring
    the count after each kernel woke OpenBLAS's idle workers, whose spinning slowed the NumPy operations
    between kernels (dropout's mask took 0.32 ms after a two-thread product against 0.17-0.21 ms otherwise)."""
    return _threads.single_threaded_blas()


__all__ = list(INTERFACE)
