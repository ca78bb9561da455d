"""A user's own hand-written gradients for the reference network, in plain NumPy (no handgrad inside).

This is the code our users write, cs231n style, for

    Conv(5x5, 32) - ELU - MaxPool(2) - Conv(5x5, 64) - ELU - MaxPool(2) - Dense(256) - ELU - Dense(10)

with an L2 weight penalty ``WEIGHT_L2 * sum(W**2)`` on every kernel and an L2 activity penalty
``ACTIVITY_L2 * sum(a**2) / N`` on each conv output ``a = conv(x, W) + b`` (before ELU, "pre"). Parameter
names are handgrad's (``conv2d.W``, ``conv2d.b``, ``conv2d_1.W``, ..., ``dense_1.b``), so ``handgrad
gradcheck --user-module examples/typical_mistake.py:loss_and_grads`` can check it against finite
differences of its own loss.

``make_loss_and_grads(activity_l2, weight_l2, mistake)`` builds the function:

- ``mistake="none"``: the correct gradient; the activity gradient ``2 * ACTIVITY_L2 * a / N`` is added to
  the upstream gradient at ``a`` and flows through the conv's backward (W, b) and to every layer below.
- ``mistake="incomplete"`` (the typical mistake): for each conv layer, ``conv_backward(2*reg*a/N).dW`` is added
  to *that layer's* ``dW`` and nothing else: no bias term, nothing for the layers below.
- ``mistake="incomplete-sum"``: the same, and the penalty's gradient is summed over the batch (``2*reg*a``,
  no division by N), so it swamps the data gradient.
- ``mistake="batch-summed"``: the penalty is summed over the batch in the loss *and* in the gradient
  (``ACTIVITY_L2 * sum(a**2)``, gradient ``2 * reg * a`` flowing correctly): the gradient is right for that
  loss, so a gradient check passes, yet the penalty is ``N`` times stronger than its coefficient says.
  Only the gradient doctor's batch-scaling probe sees it.

In the first three variants the *loss* is the correct one: only the gradient is wrong, which is what a
gradient check against the user's own loss can see.

Each function takes the coefficients as keyword arguments (``loss_and_grads(params, x, y, weight_l2=1e-3,
activity_l2=1e-3)``), so the gradient doctor can switch each penalty off and check the terms separately::

    handgrad gradcheck --user-module examples/typical_mistake.py:loss_and_grads --input-shape 1,12,12 \\
        --term weight=weight_l2 --term activity=activity_l2
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

WEIGHT_L2 = 1e-3
ACTIVITY_L2 = 1e-3
MISTAKES = ("none", "incomplete", "incomplete-sum", "batch-summed")


def _im2col(x, k, pad):
    """(N, C, H, W) -> (N*H*W, C*k*k) for a stride-1 'same' convolution."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (k, k), axis=(2, 3))  # (N, C, H, W, k, k)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * H * W, C * k * k)


def _col2im(dcols, x_shape, k, pad):
    N, C, H, W = x_shape
    d = dcols.reshape(N, H, W, C, k, k)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + H, j:j + W] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + H, pad:pad + W]


def conv_forward(x, W, b):
    F, C, k, _ = W.shape
    cols = _im2col(x, k, k // 2)
    out = cols @ W.reshape(F, -1).T + b
    N, _, H, Wd = x.shape
    return out.reshape(N, H, Wd, F).transpose(0, 3, 1, 2), (x.shape, cols, W)


def conv_backward(dout, cache):
    x_shape, cols, W = cache
    F, C, k, _ = W.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dW = (d.T @ cols).reshape(W.shape)
    db = d.sum(0)
    dx = _col2im(d @ W.reshape(F, -1), x_shape, k, k // 2)
    return dx, dW, db


def elu_forward(a):
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


def elu_backward(dout, a):
    return dout * np.where(a > 0, 1.0, np.exp(np.minimum(a, 0)))


def pool_forward(x):
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // 2, 2, W // 2, 2)
    out = win.max(axis=(3, 5))
    return out, (x, out)


def pool_backward(dout, cache):
    x, out = cache
    N, C, H, W = x.shape
    up = np.repeat(np.repeat(out, 2, axis=2), 2, axis=3)
    mask = x == up
    # route each window's gradient to its first maximum only (ties are rare with real data)
    win = mask.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)
    first = np.zeros_like(win)
    np.put_along_axis(first, win.argmax(-1)[..., None], True, axis=-1)
    first = first.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)
    return first * np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)


def make_loss_and_grads(activity_l2=ACTIVITY_L2, weight_l2=WEIGHT_L2, mistake="incomplete"):
    if mistake not in MISTAKES:
        raise ValueError(f"mistake must be one of {', '.join(map(repr, MISTAKES))}, got {mistake!r}")
    default_activity_l2, default_weight_l2 = activity_l2, weight_l2

    def loss_and_grads(params, x, y, weight_l2=default_weight_l2, activity_l2=default_activity_l2):
        p = params
        N = x.shape[0]
        a1, c1 = conv_forward(x, p["conv2d.W"], p["conv2d.b"])
        h1, q1 = pool_forward(elu_forward(a1))
        a2, c2 = conv_forward(h1, p["conv2d_1.W"], p["conv2d_1.b"])
        h2, q2 = pool_forward(elu_forward(a2))
        f = h2.reshape(N, -1)
        z3 = f @ p["dense.W"] + p["dense.b"]
        h3 = elu_forward(z3)
        logits = h3 @ p["dense_1.W"] + p["dense_1.b"]

        shifted = logits - logits.max(1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        data = -logp[np.arange(N), y].mean()
        weight = weight_l2 * sum(np.sum(p[k] ** 2) for k in p if k.endswith(".W"))
        per_batch = 1 if mistake == "batch-summed" else N  # batch-summed: the penalty grows with the batch
        activity = activity_l2 * (np.sum(a1 ** 2) + np.sum(a2 ** 2)) / per_batch
        loss = data + weight + activity

        g = {}
        dlogits = np.exp(logp)
        dlogits[np.arange(N), y] -= 1
        dlogits /= N
        g["dense_1.W"], g["dense_1.b"] = h3.T @ dlogits, dlogits.sum(0)
        dz3 = elu_backward(dlogits @ p["dense_1.W"].T, z3)
        g["dense.W"], g["dense.b"] = f.T @ dz3, dz3.sum(0)
        da2 = elu_backward(pool_backward((dz3 @ p["dense.W"].T).reshape(h2.shape), q2), a2)
        scale = 2 * activity_l2 / (1 if mistake in ("incomplete-sum", "batch-summed") else N)
        complete = mistake in ("none", "batch-summed")
        if complete:
            da2 = da2 + scale * a2  # the penalty's gradient enters at a2 and flows on
        dh1, g["conv2d_1.W"], g["conv2d_1.b"] = conv_backward(da2, c2)
        da1 = elu_backward(pool_backward(dh1, q1), a1)
        if complete:
            da1 = da1 + scale * a1
        _, g["conv2d.W"], g["conv2d.b"] = conv_backward(da1, c1)
        if not complete:  # the typical mistake: each conv's own dW only
            g["conv2d_1.W"] = g["conv2d_1.W"] + conv_backward(scale * a2, c2)[1]
            g["conv2d.W"] = g["conv2d.W"] + conv_backward(scale * a1, c1)[1]
        for k in p:
            if k.endswith(".W"):
                g[k] = g[k] + 2 * weight_l2 * p[k]
        return loss, g

    return loss_and_grads


loss_and_grads = make_loss_and_grads(mistake="incomplete")
correct_loss_and_grads = make_loss_and_grads(mistake="none")
incomplete_sum_loss_and_grads = make_loss_and_grads(mistake="incomplete-sum")
batch_summed_loss_and_grads = make_loss_and_grads(mistake="batch-summed")
