"""The numba set's fusion rules (planned by ``handgrad.kernels.fusion.plan``; see there for what a rule is)."""
from __future__ import annotations

from handgrad.kernels import conv_algorithm
from handgrad.kernels.fusion import fusable_as
from handgrad.kernels.numba import ops, winograd

# The set's convolutions (im2col and Winograd behind one algorithm/forward/backward), which its fused steps call
# with their epilogue; the set's own conv2d_forward/conv2d_backward are this object's.
CONVOLUTIONS = conv_algorithm.Convolutions(ops, winograd, fast_winograd=True)


class ELUMaxPool:
    """``MaxPool2D(ELU(x))`` by ``ops.max_pool_elu_forward``: max pooling first, then ELU on the pooled map.

    Matches an ``ELU`` without activity regularizer (its full-size output is never formed) followed by a
    ``MaxPool2D``. Shape: as the pair, ``(N, C, H, W)`` -> ``(N, C, OH, OW)``. Caches the pooled output and the
    argmax. Reads the layers' configuration (``alpha``, the pooling geometry), never their private fields.
    """

    SIZE = 2

    def __init__(self, elu, pool):
        self.elu, self.pool = elu, pool

    @staticmethod
    def matches(a, b) -> bool:
        return fusable_as(a) == "elu" and a.activity_regularizer is None and fusable_as(b) == "max_pool"

    def forward(self, x, training, check_finite=False):
        # check_finite: the layer interface's; a step runs only inside a Sequential, which checks its input
        y, argmax = ops.max_pool_elu_forward(x, self.elu.alpha, self.pool.geometry)
        self._cache = (y, argmax, x.shape)
        return y

    def backward(self, dy, input_grad=True, check_finite=False):
        if not input_grad:
            return None
        y, argmax, x_shape = self._cache
        return ops.max_pool_elu_backward(dy, y, argmax, self.elu.alpha, x_shape, self.pool.geometry)


class ConvELUMaxPool:
    """``MaxPool2D(ELU(Conv2D(x)))``: the convolution with ``ELUMaxPool`` as its epilogue (``ops.ELUMaxPool``).

    Each chunk of images is pooled while its convolution output ``z`` is in cache; the full-size ``z`` is never
    written (the backward pass needs only the pooled output and the argmax). Backward: the convolution's, each
    chunk's ``dz`` made in cache from ``ELUMaxPool``'s gradient (``ops.ELUMaxPoolGradient``); it fills the
    ``Conv2D``'s ``grads`` as its own backward does. Bit for bit the three layers' results. Matches a ``Conv2D``
    without activation and activity regularizer, followed by what ``ELUMaxPool`` matches. Shape: ``(N, C, H,
    W)`` -> ``(N, F, POH, POW)``.
    """

    SIZE = 3

    def __init__(self, conv, elu, pool):
        self.conv, self.elu, self.pool = conv, elu, pool

    @staticmethod
    def matches(conv, elu, pool) -> bool:
        return (fusable_as(conv) == "conv2d" and conv.activation is None and conv.activity_regularizer is None
                and ELUMaxPool.matches(elu, pool))

    def forward(self, x, training, check_finite=False):
        conv = self.conv
        (y, argmax), cache = CONVOLUTIONS.forward(x, conv.params["W"], conv.params.get("b"), conv.geometry,
                                                   conv.conv_algorithm,
                                                   epilogue=ops.ELUMaxPool(self.elu.alpha, self.pool.geometry))
        self._cache = (cache, y, argmax)
        return y

    def backward(self, dy, input_grad=True, check_finite=False):
        conv = self.conv
        cache, y, argmax = self._cache
        dz = ops.ELUMaxPoolGradient(dy, y, argmax, self.elu.alpha, self.pool.geometry)  # made chunk by chunk
        dW, db, dx = CONVOLUTIONS.backward(dz, cache, conv.geometry, input_grad)
        conv.grads["W"] = dW
        if conv.use_bias:
            conv.grads["b"] = db
        return dx


RULES = (ConvELUMaxPool, ELUMaxPool)  # the longer first
