"""The NumPy kernel set: the references, short, vectorized and obviously correct (no numba needed).

Every kernel set is a package with this interface (``handgrad.kernels.backend.active()`` returns one; the
layers, the optimizers and ``Sequential`` call nothing else, see ``docs/architecture.md``, "Add a kernel set"):

- ``NAME``: ``"numpy"``;
- convolution: ``conv_algorithm(requested, kernel_size, stride, C, F)`` (``"auto"`` resolved by the set),
  ``conv2d_forward(x, W, b, g, algorithm) -> (z, cache)``, ``conv2d_backward(dz, cache, g, input_grad) ->
  (dW, db, dx)``; here im2col (``ops``) and Winograd (``winograd``), whose "auto" is im2col;
- ``dense_forward``/``dense_backward``, ``max_pool_forward``/``max_pool_backward``,
  ``avg_pool_forward``/``avg_pool_backward``, ``elu_forward``/``elu_backward`` (``ops``),
  ``dropout_forward(x, rate, bit_generator) -> (y, scale)`` (``dropout``: the training mask, from a PCG64),
  ``standardize``/``standardize_backward`` (``normalization``), ``batch_norm_forward``/``batch_norm_backward``
  (``batch_norm``);
- ``fusion_plan(layers)``: the steps ``Sequential`` runs (here every layer alone);
- ``pass_scope()``: the context a whole pass runs in (``Sequential``'s forward and backward, an optimizer's
  step); here nothing (BLAS keeps its own threads);
- the optimizer updates ``sgd_update``, ``momentum_update``, ``rmsprop_update``, ``adam_update`` (``optim``).

Arrays are logically NCHW; their memory layout is free, so callers never rely on it.
"""
from __future__ import annotations

import contextlib

from handgrad.kernels import INTERFACE
from handgrad.kernels import conv_algorithm as _algorithm
from handgrad.kernels.numpy import ops, winograd
from handgrad.kernels.numpy.batch_norm import batch_norm_backward, batch_norm_forward
from handgrad.kernels.numpy.dropout import dropout_forward
from handgrad.kernels.numpy.normalization import standardize, standardize_backward
from handgrad.kernels.numpy.ops import (
    avg_pool_backward,
    avg_pool_forward,
    dense_backward,
    dense_forward,
    elu_backward,
    elu_forward,
    max_pool_backward,
    max_pool_forward,
)
from handgrad.kernels.numpy.optim import adam_update, momentum_update, rmsprop_update, sgd_update

NAME = "numpy"
_convolutions = _algorithm.Convolutions(ops, winograd, fast_winograd=False)
conv_algorithm = _convolutions.algorithm  # (requested, kernel_size, stride, C, F) -> "im2col" | "winograd"
conv2d_forward = _convolutions.forward  # (x, W, b, g, algorithm) -> (z, cache)
conv2d_backward = _convolutions.backward  # (dz, cache, g, input_grad) -> (dW, db, dx)


def fusion_plan(layers) -> tuple:
    """Every layer runs alone: ``((i, i + 1, layer), ...)``."""
    return tuple((i, i + 1, layer) for i, layer in enumerate(layers))


def pass_scope() -> contextlib.AbstractContextManager:
    """Nothing to set up: the NumPy kernels run BLAS on its own threads."""
    return contextlib.nullcontext()


__all__ = list(INTERFACE)
