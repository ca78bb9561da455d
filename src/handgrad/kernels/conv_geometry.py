"""Padding and output size of a 2-D convolution or pooling window.

Notation: ``H, W`` input height and width, ``KH, KW`` kernel size, ``SH, SW`` strides, ``OH, OW`` output size,
``(top, bottom, left, right)`` zero padding.

``OH = (H + top + bottom - KH) // SH + 1`` (likewise ``OW``).

``padding="valid"`` pads nothing. ``padding="same"`` gives ``OH = ceil(H / SH)``: the total padding
``max((OH - 1) * SH + KH - H, 0)`` is split with the extra row at the bottom/right, as TensorFlow and
PyTorch do. An int ``p`` (or a pair ``(ph, pw)``) pads ``p`` on every side.
"""
from __future__ import annotations

import math
from typing import NamedTuple


class ConvGeometry(NamedTuple):
    KH: int
    KW: int
    SH: int
    SW: int
    top: int
    bottom: int
    left: int
    right: int
    OH: int
    OW: int


def _same_padding(size, kernel, stride):
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_geometry(H, W, kernel, stride, padding) -> ConvGeometry:
    """Padding and output size for an input ``(H, W)``; ``kernel``/``stride`` are pairs, ``padding`` as above."""
    (KH, KW), (SH, SW) = kernel, stride
    if padding == "valid":
        top = bottom = left = right = 0
    elif padding == "same":
        top, bottom = _same_padding(H, KH, SH)
        left, right = _same_padding(W, KW, SW)
    else:
        ph, pw = padding
        top = bottom = ph
        left = right = pw
    OH = (H + top + bottom - KH) // SH + 1
    OW = (W + left + right - KW) // SW + 1
    return ConvGeometry(KH, KW, SH, SW, top, bottom, left, right, OH, OW)
