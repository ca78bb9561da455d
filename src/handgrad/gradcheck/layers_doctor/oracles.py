"""What each kind of layer must compute, from handgrad's own proven layers (float64, NumPy kernels).

``expected(kind, case)`` -> ``{"out": ...}`` (``"loss"`` for the losses; ``"running_mean"`` and
``"running_var"`` after a batchnorm forward). The CS231n conventions map onto handgrad's layers one to one:
``w (D, M)`` is ``Dense``'s ``W``; ``conv_param``'s pad is ``Conv2D``'s ``padding``; CS231n's
``running = momentum * running + (1 - momentum) * batch`` is ``BatchNorm``'s (Keras's) ``momentum``, both with
the biased batch variance. Also the alternatives the diagnoses compare a wrong result with: the
flipped-kernel convolution, the batchnorm dx with the batch statistics held constant, the running statistics
with the momentum reversed.
"""
from __future__ import annotations

import numpy as np

from handgrad import losses
from handgrad.kernels import backend
from handgrad.layers import (
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    GroupNorm,
    LayerNorm,
    MaxPool2D,
    ReLU,
)


def _run(layer, x, training=False, params=None, state=None, dout=None):
    """``layer`` built for ``x`` in float64 with ``params``/``state`` set; ``(y, dx or None, grads)``."""
    with backend.using_kernels("numpy"):
        layer.build(x.shape[1:], dtype=np.float64)
        for key, value in (params or {}).items():
            layer.params[key][...] = np.reshape(value, layer.params[key].shape)
        for key, value in (state or {}).items():
            layer.state[key][...] = value
        y = layer.forward(x, training=training)
        dx = None if dout is None else layer.backward(dout)
    return y, dx, layer


def _conv(case, w):
    x, b, p = case.arrays["x"], case.arrays["b"], case.extra[0]
    F, _, HH, WW = w.shape
    layer = Conv2D(F, (HH, WW), stride=p["stride"], padding=p["pad"], algorithm="im2col")
    return _run(layer, x, params={"W": w, "b": b})[0]


def _batchnorm(case, training, dout=None):
    x, param = case.arrays["x"], case.extra[0]
    layer = (BatchNorm1D if x.ndim == 2 else BatchNorm2D)(momentum=param["momentum"], epsilon=param["eps"])
    return _run(layer, x, training, {"gamma": case.arrays["gamma"], "beta": case.arrays["beta"]},
                {"moving_mean": param["running_mean"], "moving_variance": param["running_var"]}, dout)


def _affine(arrays):
    return {"gamma": arrays["gamma"], "beta": arrays["beta"]}


def expected(kind: str, case) -> dict:
    a = case.arrays
    x = a["x"]
    if kind == "affine":
        w = a["w"]
        y = _run(Dense(w.shape[1]), x.reshape(x.shape[0], -1), params={"W": w, "b": a["b"]})[0]
        return {"out": y}
    if kind == "relu":
        return {"out": _run(ReLU(), x)[0]}
    if kind == "conv":
        return {"out": _conv(case, a["w"])}
    if kind == "max_pool":
        p = case.extra[0]
        return {"out": _run(MaxPool2D((p["pool_height"], p["pool_width"]), stride=p["stride"]), x)[0]}
    if kind in ("batchnorm", "spatial_batchnorm"):
        training = case.extra[0]["mode"] == "train"
        y, _, layer = _batchnorm(case, training)
        if not training:
            return {"out": y}
        return {"out": y, "running_mean": layer.state["moving_mean"], "running_var": layer.state["moving_variance"]}
    if kind == "layernorm":
        return {"out": _run(LayerNorm(epsilon=case.extra[0]["eps"]), x, params=_affine(a))[0]}
    if kind == "spatial_groupnorm":
        G, param = case.extra
        return {"out": _run(GroupNorm(G, epsilon=param["eps"]), x, params=_affine(a))[0]}
    if kind == "softmax_loss":
        return {"loss": losses.softmax_cross_entropy(x, case.extra[0])[0]}
    if kind == "svm_loss":
        return {"loss": losses.multiclass_hinge(x, case.extra[0])[0]}
    raise KeyError(kind)  # dropout: checked by its statistics (check.py)


def dx_without_gamma(kind: str, case, dout) -> np.ndarray:
    """dx computed as if gamma were 1 (``dx_hat = dout`` instead of ``dout * gamma``), by handgrad's layer."""
    x = case.arrays["x"]
    ones = {"gamma": np.ones_like(case.arrays["gamma"]), "beta": case.arrays["beta"]}
    if kind in ("batchnorm", "spatial_batchnorm"):
        param = case.extra[0]
        layer = (BatchNorm1D if x.ndim == 2 else BatchNorm2D)(momentum=param["momentum"], epsilon=param["eps"])
        return _run(layer, x, True, ones, dout=dout)[1]
    if kind == "layernorm":
        return _run(LayerNorm(epsilon=case.extra[0]["eps"]), x, True, ones, dout=dout)[1]
    G, param = case.extra
    return _run(GroupNorm(G, epsilon=param["eps"]), x, True, ones, dout=dout)[1]


def batchnorm_train_output(case) -> np.ndarray:
    """The output normalized with the batch statistics, which a wrong test mode may compute."""
    return _batchnorm(case, True)[0]


def flipped_conv(case) -> np.ndarray:
    """The true convolution (kernel flipped in both spatial axes) that a wrong conv forward may compute."""
    return _conv(case, case.arrays["w"][:, :, ::-1, ::-1])


def dx_constant_statistics(kind: str, case, dout) -> np.ndarray:
    """dx with the batch mean and variance held constant: ``gamma * dout / sqrt(var + eps)``."""
    x, gamma = case.arrays["x"], case.arrays["gamma"]
    if kind in ("batchnorm", "spatial_batchnorm"):
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        var = x.var(axis=axes).reshape(shape)
        return np.reshape(gamma, shape) * dout / np.sqrt(var + case.extra[0]["eps"])
    if kind == "layernorm":
        return gamma * dout / np.sqrt(x.var(axis=1, keepdims=True) + case.extra[0]["eps"])
    G, param = case.extra
    N, C = x.shape[:2]
    var = x.reshape(N, G, -1).var(axis=2)  # (N, G)
    s = np.repeat(1 / np.sqrt(var + param["eps"]), C // G, axis=1).reshape(N, C, 1, 1)
    return np.reshape(gamma, (1, C, 1, 1)) * dout * s


def running_momentum_reversed(case, key: str) -> np.ndarray:
    """``momentum * batch + (1 - momentum) * running``: CS231n's update with the two weights swapped."""
    x, param = case.arrays["x"], case.extra[0]
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    batch = x.mean(axis=axes) if key == "running_mean" else x.var(axis=axes)
    m = param["momentum"]
    return m * batch + (1 - m) * param[key]


def pool_coverage(case) -> np.ndarray:
    """How many pooling windows hold each input entry (shape of x): 2 or more where windows overlap."""
    x, p = case.arrays["x"], case.extra[0]
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    count = np.zeros(x.shape, dtype=int)
    OH, OW = (x.shape[2] - ph) // s + 1, (x.shape[3] - pw) // s + 1
    for i in range(OH):
        for j in range(OW):
            count[:, :, i * s:i * s + ph, j * s:j * s + pw] += 1
    return count
