"""Gradient clipping by global norm, with ``torch.nn.utils.clip_grad_norm_``'s rule.

::

    norm  = sqrt(sum_i sum(g_i ** 2))           over every gradient array g_i
    scale = max_norm / (norm + 1e-6)
    g_i  *= scale    for all i, only when scale < 1

The ``1e-6`` keeps the scale finite for a zero gradient and matches PyTorch, so a clipped norm lands a hair
below ``max_norm``.
"""
from __future__ import annotations

import math

import numpy as np

from handgrad._validation import check_number


def global_norm(grads: dict) -> float:
    """``sqrt(sum_i sum(g_i ** 2))`` as a Python float; accumulates each array's square sum without a copy."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)  # a view for contiguous arrays, so vdot reads the data in place
        total += float(np.vdot(flat, flat))
    return math.sqrt(total)


def clip_by_global_norm(grads: dict, max_norm: float) -> float:
    """Scale every array in ``grads`` in place so that their global norm is at most ``max_norm``.

    Args:
        grads: ``name -> np.ndarray``; modified in place (as PyTorch modifies ``.grad``).
        max_norm: finite and > 0.

    Returns:
        the global norm *before* clipping. A non-finite norm is returned with the gradients untouched, so the
        caller can detect it.
    """
    max_norm = check_number("clip_by_global_norm", "max_norm", max_norm, minimum=0, strict_min=True)
    norm = global_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if math.isfinite(norm) and scale < 1.0:  # torch would zero (inf) or NaN the grads; we leave them for the caller
        for g in grads.values():
            g *= scale
    return norm
