"""Users' own networks, written from scratch in plain NumPy the way CS231n teaches (no handgrad inside).

Each model has ``.params`` (``W1``, ``b1``, ...: conv weights ``(F, C, HH, WW)``, FC weights ``(D, H)``),
``.loss(X, y) -> (loss, grads)`` and its coefficients as attributes ``reg`` (weight penalty
``0.5 * reg * sum(W**2)`` over every weight, CS231n's convention) and ``act_reg`` (activity penalty). A
``variant`` selects a known mistake, so that the gradient doctor's verdicts can be checked against what was
put in:

``ConvNet`` (conv3x3-ELU-pool2-conv3x3-ELU-pool2-FC-ELU-FC; activity penalty ``act_reg * sum(a2**2) / N`` on
the second conv's pre-activation ``a2``):

- ``"correct"``: ``2 * act_reg * a2 / N`` joins the upstream gradient at ``a2`` and flows on;
- ``"incomplete"``: the classic mistake: ``dW2 += conv_backward(2 * act_reg * a2 / N).dW`` and nothing
  else, so the penalty's gradient never reaches ``W1``, ``b1``, ``b2``;
- ``"batch_summed"``: the penalty is summed over the batch in the loss *and* in the gradient (correct
  gradient of the wrong penalty: ``act_reg * sum(a2**2)``);
- ``"scaled"``: the loss averages the penalty, the gradient sums it (``N`` times too large);
- ``"float32"``: the correct code computing in float32 (``dtype=np.float32``, as CS231n's default).

``MLP`` (affine-ReLU-affine; ``act_reg`` on the hidden pre-activation) with variants ``"correct"``,
``"reg_twice"`` (gradient ``2 * reg * W`` for the loss ``0.5 * reg * sum(W**2)``), ``"reg_half"``,
``"reg_sign"``, ``"data_grad_summed"`` (the data gradient not divided by N), ``"data_summed"`` (loss and
gradient summed over the batch).

``ThreeConvReLU`` (three conv3x3-ReLU, FC; ``act_reg`` on every conv's pre-activation) as a function
``three_conv_loss(params, x, y, reg=..., act_reg=..., variant=...)`` with ``three_conv_params(seed)``;
variant ``"incomplete"`` adds each conv's own ``dW`` only.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


# ----------------------------------------------------------------------------------------------- layers
def _cols(x, HH, WW):
    """im2col of a stride-1 'same' convolution: (N, C, H, W) -> (N*H*W, C*HH*WW)."""
    N, C, H, W = x.shape
    pad = HH // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (HH, WW), axis=(2, 3))  # (N, C, H, W, HH, WW)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * H * W, C * HH * WW)


def conv_forward(x, w, b):
    """Stride-1 'same' convolution; x (N, C, H, W), w (F, C, HH, WW) odd HH = WW -> (N, F, H, W)."""
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    cols = _cols(x, HH, WW)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, H, W, F).transpose(0, 3, 1, 2)
    return out, (x, w, cols)


def conv_backward(dout, cache):
    x, w, cols = cache
    F, C, HH, WW = w.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # (N*H*W, F)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    # dx: the full correlation of dout with the kernel flipped and its channel axes swapped
    w_flip = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, HH, WW)
    N, _, H, W = x.shape
    dx = (_cols(dout, HH, WW) @ w_flip.reshape(C, -1).T).reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dw, db


def elu(a):
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


def elu_backward(dout, a):
    return dout * np.where(a > 0, 1.0, np.exp(np.minimum(a, 0)))


def pool_forward(x):
    """2x2 max pooling, stride 2 (H and W even)."""
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)
    arg = win.argmax(axis=-1)
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], (x.shape, arg)


def pool_backward(dout, cache):
    (N, C, H, W), arg = cache
    dwin = np.zeros((N, C, H // 2, W // 2, 4), dout.dtype)
    np.put_along_axis(dwin, arg[..., None], dout[..., None], axis=-1)
    return dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)


def softmax_loss(scores, y):
    """Mean cross-entropy and its gradient (both divided by N)."""
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1
    return -logp[np.arange(N), y].mean(), dscores / N


# ----------------------------------------------------------------------------------------------- models
class ConvNet:
    """conv-ELU-pool-conv-ELU-pool-FC-ELU-FC with CS231n's interface (see the module docstring)."""

    VARIANTS = ("correct", "incomplete", "batch_summed", "scaled", "float32")

    def __init__(self, input_dim=(1, 12, 12), num_filters=(4, 6), hidden_dim=16, num_classes=10, reg=1e-2,
                 act_reg=1e-2, variant="correct", seed=0):
        assert variant in self.VARIANTS, variant
        self.reg, self.act_reg, self.variant = reg, act_reg, variant
        self.dtype = np.float32 if variant == "float32" else np.float64
        rng = np.random.default_rng(seed)
        C, H, W = input_dim
        F1, F2 = num_filters
        D = F2 * (H // 4) * (W // 4)
        shapes = {"W1": (F1, C, 3, 3), "b1": (F1,), "W2": (F2, F1, 3, 3), "b2": (F2,),
                  "W3": (D, hidden_dim), "b3": (hidden_dim,), "W4": (hidden_dim, num_classes), "b4": (num_classes,)}
        self.params = {}
        for k, shape in shapes.items():
            fan_in = np.prod(shape[1:]) if k in ("W1", "W2") else shape[0]
            scale = np.sqrt(2.0 / fan_in) if k.startswith("W") else 0.1
            self.params[k] = (scale * rng.standard_normal(shape)).astype(self.dtype)

    def loss(self, X, y):
        p = {k: v.astype(self.dtype) for k, v in self.params.items()}
        X = X.astype(self.dtype)
        N = X.shape[0]
        a1, c1 = conv_forward(X, p["W1"], p["b1"])
        h1, q1 = pool_forward(elu(a1))
        a2, c2 = conv_forward(h1, p["W2"], p["b2"])
        h2, q2 = pool_forward(elu(a2))
        f = h2.reshape(N, -1)
        z3 = f @ p["W3"] + p["b3"]
        h3 = elu(z3)
        scores = h3 @ p["W4"] + p["b4"]
        data, dscores = softmax_loss(scores, y)
        per_batch = 1 if self.variant == "batch_summed" else N
        act = self.act_reg * np.sum(a2 ** 2) / per_batch
        weight = 0.5 * self.reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2", "W3", "W4"))
        loss = data + weight + act

        g = {}
        g["W4"], g["b4"] = h3.T @ dscores, dscores.sum(0)
        dz3 = elu_backward(dscores @ p["W4"].T, z3)
        g["W3"], g["b3"] = f.T @ dz3, dz3.sum(0)
        da2 = elu_backward(pool_backward((dz3 @ p["W3"].T).reshape(h2.shape), q2), a2)
        dact = 2 * self.act_reg * a2 / (1 if self.variant in ("batch_summed", "scaled") else N)
        if self.variant != "incomplete":
            da2 = da2 + dact  # the penalty's gradient enters at a2 and flows on to W2, b2 and below
        dh1, g["W2"], g["b2"] = conv_backward(da2, c2)
        if self.variant == "incomplete":
            g["W2"] = g["W2"] + conv_backward(dact, c2)[1]  # this layer's dW only
        da1 = elu_backward(pool_backward(dh1, q1), a1)
        _, g["W1"], g["b1"] = conv_backward(da1, c1)
        for k in ("W1", "W2", "W3", "W4"):
            g[k] = g[k] + self.reg * p[k]
        return loss, g


class MLP:
    """affine-ReLU-affine, activity penalty ``act_reg * sum(z1**2) / N`` on the hidden pre-activation."""

    VARIANTS = ("correct", "reg_twice", "reg_half", "reg_sign", "data_grad_summed", "data_summed")

    def __init__(self, input_dim=20, hidden_dim=12, num_classes=5, reg=0.1, act_reg=1e-2, variant="correct", seed=0):
        assert variant in self.VARIANTS, variant
        self.reg, self.act_reg, self.variant = reg, act_reg, variant
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.standard_normal((input_dim, hidden_dim)) / np.sqrt(input_dim),
                       "b1": 0.1 * rng.standard_normal(hidden_dim),
                       "W2": rng.standard_normal((hidden_dim, num_classes)) / np.sqrt(hidden_dim),
                       "b2": 0.1 * rng.standard_normal(num_classes)}

    def loss(self, X, y):
        p, v = self.params, self.variant
        N = X.shape[0]
        z1 = X @ p["W1"] + p["b1"]
        h1 = np.maximum(z1, 0)
        scores = h1 @ p["W2"] + p["b2"]
        data, dscores = softmax_loss(scores, y)
        if v in ("data_grad_summed", "data_summed"):
            dscores = dscores * N
            data = data * (N if v == "data_summed" else 1)
        loss = data + 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)) + \
            self.act_reg * np.sum(z1 ** 2) / N
        g = {"W2": h1.T @ dscores, "b2": dscores.sum(0)}
        dz1 = (dscores @ p["W2"].T) * (z1 > 0) + 2 * self.act_reg * z1 / N
        g["W1"], g["b1"] = X.T @ dz1, dz1.sum(0)
        factor = {"reg_twice": 2.0, "reg_half": 0.5, "reg_sign": -1.0}.get(v, 1.0)
        for k in ("W1", "W2"):
            g[k] = g[k] + factor * self.reg * p[k]
        return loss, g


# ----------------------------------------------------------------------------------------------- function form
def three_conv_params(seed=0, input_shape=(1, 8, 8), num_classes=4, filters=(3, 4, 4)):
    """``init_params(seed)`` of the three-conv ReLU network: W1..W3 (F, C, 3, 3), b1..b3, W4 (D, K), b4."""
    rng = np.random.default_rng(seed)
    C, H, W = input_shape
    params, fan_c = {}, C
    for i, F in enumerate(filters, start=1):
        params[f"W{i}"] = rng.standard_normal((F, fan_c, 3, 3)) * np.sqrt(2.0 / (fan_c * 9))
        params[f"b{i}"] = 0.1 * rng.standard_normal(F)
        fan_c = F
    params["W4"] = rng.standard_normal((fan_c * H * W, num_classes)) / np.sqrt(fan_c * H * W)
    params["b4"] = 0.1 * rng.standard_normal(num_classes)
    return params


def three_conv_loss(params, x, y, reg=1e-2, act_reg=1e-2, variant="correct"):
    """(conv3x3-ReLU) x 3 - FC; ``0.5 * reg * sum(W**2)``, ``act_reg * sum(a_i**2) / N`` on every conv."""
    p, N = params, x.shape[0]
    h, caches, pre = x, [], []
    for i in (1, 2, 3):
        a, c = conv_forward(h, p[f"W{i}"], p[f"b{i}"])
        caches.append(c)
        pre.append(a)
        h = np.maximum(a, 0)
    f = h.reshape(N, -1)
    scores = f @ p["W4"] + p["b4"]
    data, dscores = softmax_loss(scores, y)
    loss = data + 0.5 * reg * sum(np.sum(p[f"W{i}"] ** 2) for i in (1, 2, 3, 4)) + \
        act_reg * sum(np.sum(a ** 2) for a in pre) / N
    g = {"W4": f.T @ dscores, "b4": dscores.sum(0)}
    dh = (dscores @ p["W4"].T).reshape(h.shape)
    for i in (3, 2, 1):
        a = pre[i - 1]
        da = dh * (a > 0)
        dact = 2 * act_reg * a / N
        if variant == "correct":
            da = da + dact
        dh, g[f"W{i}"], g[f"b{i}"] = conv_backward(da, caches[i - 1])
        if variant == "incomplete":
            g[f"W{i}"] = g[f"W{i}"] + conv_backward(dact, caches[i - 1])[1]
    for i in (1, 2, 3, 4):
        g[f"W{i}"] = g[f"W{i}"] + reg * p[f"W{i}"]
    return loss, g


# ----------------------------------------------------------------------------------------------- CLI factories
def _factory(variant):
    def factory(input_shape=(1, 12, 12), num_classes=10, seed=0):
        return ConvNet(input_dim=input_shape, num_classes=num_classes, variant=variant, seed=seed)
    factory.__name__ = factory.__qualname__ = variant
    return factory


correct, incomplete, batch_summed, scaled, float32 = map(_factory, ConvNet.VARIANTS)
