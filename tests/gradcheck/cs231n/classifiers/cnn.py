import numpy as np

from ..layer_utils import affine_relu_backward, affine_relu_forward, conv_relu_pool_backward, conv_relu_pool_forward
from ..layers import affine_backward, affine_forward, conv_backward_fast, softmax_loss


class ThreeLayerConvNet:
    """conv - relu - max pool - affine - relu - affine - softmax (CS231n assignment 2).

    Weight penalty ``0.5 * reg * sum(W**2)`` over W1, W2, W3. Activity penalty ``act_reg * sum(a**2) / N`` on
    the pre-activations of the layers in ``act_layers`` (1: the conv's output, 2: the hidden affine's).

    ``bugs`` plants mistakes: ``"pool_assign"`` (max-pool backward with ``=``), ``"act_own_dw"`` (the seed's
    mistake: each penalty adds its layer's ``dW`` and nothing else), ``"act_grad_summed"`` (the penalty's
    gradient not divided by N), ``"act_summed"`` (penalty summed over the batch in loss and gradient alike),
    ``"reg_twice"`` (``2 * reg * W`` for ``0.5 * reg * sum(W**2)``), ``"reg_sign"``.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, act_reg=0.0, act_layers=(1,), pool=2, pool_stride=2, bugs=(),
                 seed=None, dtype=np.float32):
        self.params = {}
        self.reg = reg
        self.act_reg = act_reg
        self.act_layers = tuple(act_layers)
        self.dtype = dtype
        self.bugs = set(bugs)
        self.pool_param = {"pool_height": pool, "pool_width": pool, "stride": pool_stride}
        rng = np.random.RandomState(seed)
        C, H, W = input_dim
        self.params["W1"] = weight_scale * rng.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        PH = (H - pool) // pool_stride + 1
        PW = (W - pool) // pool_stride + 1
        self.params["W2"] = weight_scale * rng.randn(num_filters * PH * PW, hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * rng.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        N = X.shape[0]

        out1, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, self.pool_param)
        out2, cache2 = affine_relu_forward(out1, W2, b2)
        scores, cache3 = affine_forward(out2, W3, b3)
        if y is None:
            return scores

        pre = {1: cache1[1], 2: cache2[1]}  # the ReLU caches hold the pre-activations
        per = 1 if "act_summed" in self.bugs else N
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        for i in self.act_layers:
            loss += self.act_reg * np.sum(pre[i] ** 2) / per
        dact = {i: 2 * self.act_reg * pre[i] / (1 if self.bugs & {"act_summed", "act_grad_summed"} else N)
                for i in self.act_layers}

        grads = {}
        dout2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        if 2 in dact and "act_own_dw" not in self.bugs:
            fc_cache, relu_cache = cache2
            da2 = dout2 * (relu_cache > 0) + dact[2]
            dout1, grads["W2"], grads["b2"] = affine_backward(da2, fc_cache)
        else:
            dout1, grads["W2"], grads["b2"] = affine_relu_backward(dout2, cache2)
        if 2 in dact and "act_own_dw" in self.bugs:
            grads["W2"] += affine_backward(dact[2], cache2[0])[1]
        bug = "assign" if "pool_assign" in self.bugs else None
        if 1 in dact and "act_own_dw" not in self.bugs:
            from ..layers import max_pool_backward_fast, relu_backward
            conv_cache, relu_cache, pool_cache = cache1
            da1 = relu_backward(max_pool_backward_fast(dout1, pool_cache, bug=bug), relu_cache) + dact[1]
            _, grads["W1"], grads["b1"] = conv_backward_fast(da1, conv_cache)
        else:
            _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dout1, cache1, bug=bug)
        if 1 in dact and "act_own_dw" in self.bugs:
            grads["W1"] += conv_backward_fast(dact[1], cache1[0])[1]

        factor = 2.0 if "reg_twice" in self.bugs else -1.0 if "reg_sign" in self.bugs else 1.0
        for k in ("W1", "W2", "W3"):
            grads[k] += factor * self.reg * self.params[k]
        return loss, grads
