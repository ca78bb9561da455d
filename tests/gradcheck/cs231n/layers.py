"""Layer functions in CS231n's style: ``*_forward(...) -> (out, cache)``, ``*_backward(dout, cache) -> grads``.

Each backward takes ``bug=`` (default ``None``) to plant one published student mistake:

- ``max_pool_backward(..., bug="assign")``: ``dx[window] = ...`` instead of ``+=``: where pooling windows
  overlap (pool 3, stride 2) the gradients of the earlier windows are overwritten;
- ``batchnorm_backward(..., bug="no_gamma")``: ``dx`` computed from ``dout`` instead of ``dout * gamma``
  (invisible at gamma = 1, the initial value).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def _windows(x, HH, WW, stride):
    """(N, C, H, W) -> (N, C, OH, OW, HH, WW) views of the windows."""
    return sliding_window_view(x, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_forward_fast(x, w, b, conv_param):
    """Convolution (cross-correlation) with conv_param = {'stride', 'pad'}; w (F, C, HH, WW)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = _windows(xp, HH, WW, stride)  # (N, C, OH, OW, HH, WW)
    out = np.einsum("ncijkl,fckl->nfij", win, w) + b[None, :, None, None]
    return out, (x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    N, _, OH, OW = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = _windows(xp, HH, WW, stride)
    dw = np.einsum("ncijkl,nfij->fckl", win, dout)
    db = dout.sum(axis=(0, 2, 3))
    dxp = np.zeros_like(xp)
    for k in range(HH):
        for m in range(WW):
            dxp[:, :, k:k + stride * OH:stride, m:m + stride * OW:stride] += np.einsum("nfij,fc->ncij", dout,
                                                                                       w[:, :, k, m])
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, db


def max_pool_forward_fast(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    win = _windows(x, ph, pw, stride)  # (N, C, OH, OW, ph, pw)
    N, C, OH, OW = win.shape[:4]
    flat = win.reshape(N, C, OH, OW, ph * pw)
    arg = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    return out, (x, pool_param, arg)


def max_pool_backward_fast(dout, cache, bug=None):
    x, pool_param, arg = cache
    pw, stride = pool_param["pool_width"], pool_param["stride"]
    N, C, OH, OW = dout.shape
    n, c, i, j = np.indices((N, C, OH, OW))
    rows = i * stride + arg // pw  # where each window's maximum is
    cols = j * stride + arg % pw
    dx = np.zeros_like(x)
    if bug == "assign":
        dx[n, c, rows, cols] = dout  # the bug: a later window overwrites an earlier one's gradient
    else:
        np.add.at(dx, (n, c, rows, cols), dout)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv_std
        out = gamma * xhat + beta
        cache = (xhat, gamma, inv_std)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, cache


def batchnorm_backward(dout, cache, bug=None):
    xhat, gamma, inv_std = cache
    N = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout if bug == "no_gamma" else dout * gamma
    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout; ``p`` is the probability of keeping a unit; a ``seed`` makes the mask repeatable."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    rng = np.random.RandomState(dropout_param["seed"]) if "seed" in dropout_param else np.random
    if mode == "train":
        mask = (rng.rand(*x.shape) < p) / p
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N
