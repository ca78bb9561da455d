"""PyTorch twins of handgrad layers with identical weights (test oracle only)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def torch_padding(layer):
    """``F.pad`` amounts (left, right, top, bottom) of a handgrad Conv2D after build."""
    g = layer.geometry
    return (g.left, g.right, g.top, g.bottom)


def conv2d(x, layer, params):
    """``params``: dict of torch tensors with the layer's "W", "b"."""
    xp = F.pad(x, torch_padding(layer))
    return F.conv2d(xp, params["W"], params.get("b"), stride=layer.stride)


ACTIVATIONS = {
    "elu": lambda z, layer: F.elu(z, alpha=layer.alpha),
    "relu": lambda z, layer: F.relu(z),
    "leaky_relu": lambda z, layer: F.leaky_relu(z, negative_slope=layer.negative_slope),
    "tanh": lambda z, layer: torch.tanh(z),
    "sigmoid": lambda z, layer: torch.sigmoid(z),
}


def activation(z, layer):
    from handgrad.layers.base import default_name
    return ACTIVATIONS[default_name(type(layer))](z, layer)
