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


# ---- twins of whole layers, as the layer-case registry (tests/layer_cases.py) names them:
# ``twin(layer, X, P, training) -> Y`` with ``X`` the input and ``P`` the layer's params as torch tensors.

def _activated(y, layer):
    return y if layer.activation is None else activation(y, layer.activation)


def conv2d_twin(layer, X, P, training):
    return _activated(conv2d(X, layer, P), layer)


def dense_twin(layer, X, P, training):
    return _activated(F.linear(X, P["W"].T, P.get("b")), layer)  # torch's Linear.weight is W.T


def activation_twin(layer, X, P, training):
    return activation(X, layer)


def max_pool_twin(layer, X, P, training):
    return F.max_pool2d(X, layer.pool_size, layer.stride)


def avg_pool_twin(layer, X, P, training):
    return F.avg_pool2d(X, layer.pool_size, layer.stride)


def flatten_twin(layer, X, P, training):
    return X.flatten(1)


def identity_twin(layer, X, P, training):
    return X * 1.0


def batch_norm_twin(layer, X, P, training):
    """``F.batch_norm`` on copies of the moving statistics as they were before the layer's forward (training:
    the batch's statistics, which do not read them; inference: the moving ones, which that forward left
    alone). PyTorch's momentum is ``1 - momentum``."""
    mean, var = (torch.tensor(layer.state[k].copy()) for k in ("moving_mean", "moving_variance"))
    return F.batch_norm(X, mean, var, P["gamma"], P["beta"], training=training, momentum=1 - layer.momentum,
                        eps=layer.epsilon)


def layer_norm_twin(layer, X, P, training):
    return F.layer_norm(X, X.shape[1:], P["gamma"], P["beta"], eps=layer.epsilon)


def group_norm_twin(layer, X, P, training):
    return F.group_norm(X, layer.groups, P["gamma"], P["beta"], eps=layer.epsilon)
