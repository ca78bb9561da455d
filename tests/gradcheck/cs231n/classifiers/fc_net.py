import numpy as np

from ..layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class FullyConnectedNet:
    """{affine - [batch norm] - relu - [dropout]} x (L - 1) - affine - softmax (CS231n assignment 2).

    ``dropout`` is the probability of keeping a unit (1: no dropout); ``seed`` fixes the dropout masks, as
    the notebook's gradient check does. ``bugs``: ``"bn_no_gamma"`` (batch norm's dx without gamma).
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=1, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32, seed=None, bugs=()):
        self.normalization = normalization
        self.use_dropout = dropout != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.bugs = set(bugs)
        self.params = {}
        rng = np.random.RandomState(0 if seed is None else seed + 1)
        dims = [int(np.prod(input_dim))] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * rng.randn(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])
            if normalization == "batchnorm" and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1])
                self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, fc = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            bn = None
            if self.normalization == "batchnorm":
                out, bn = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                            self.bn_params[i - 1])
            out, relu = relu_forward(out)
            drop = None
            if self.use_dropout:
                out, drop = dropout_forward(out, self.dropout_param)
            caches.append((fc, bn, relu, drop))
        L = self.num_layers
        scores, last = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        if mode == "test":
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last)
        for i in range(L - 1, 0, -1):
            fc, bn, relu, drop = caches[i - 1]
            if drop is not None:
                dout = dropout_backward(dout, drop)
            dout = relu_backward(dout, relu)
            if bn is not None:
                bug = "no_gamma" if "bn_no_gamma" in self.bugs else None
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dout, bn, bug=bug)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, fc)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] += self.reg * W
        return loss, grads
