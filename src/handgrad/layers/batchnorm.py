"""Batch normalization, with Keras's names, defaults and semantics."""
from __future__ import annotations

from decimal import Decimal

import numpy as np

from handgrad._validation import ShapeError, check_number
from handgrad.errors import ArgumentError
from handgrad.kernels import backend
from handgrad.layers.base import Layer


def complement(momentum: float) -> float:
    """``1 - momentum`` in decimal, from the shortest repr: Keras's 0.99 <-> PyTorch's 0.01 exactly, both ways.

    In binary floating point ``1 - 0.9`` is 0.09999999999999998, not PyTorch's 0.1; the decimal difference
    of the two shortest reprs round-trips: ``complement(complement(m)) == m`` for every ``m`` in [0, 1] with at
    most 15 digits after the decimal point.
    """
    return float(Decimal(1) - Decimal(repr(float(momentum))))


class _BatchNorm(Layer):
    r"""Normalize each channel (feature) over the batch, then scale and shift it.

    Training (``training=True``), with ``mu`` and ``var`` the mean and the *biased* variance (divided by
    ``M``, the number of values per channel) of the batch::

        xhat = (x - mu) / sqrt(var + epsilon)        y = gamma * xhat + beta
        moving_mean     = momentum * moving_mean     + (1 - momentum) * mu
        moving_variance = momentum * moving_variance + (1 - momentum) * var

    Inference: the same with ``moving_mean``, ``moving_variance`` in place of ``mu``, ``var`` (no update).

    Backward (the kernels' ``batch_norm_backward``), with ``s = 1 / sqrt(var + epsilon)`` and sums over the
    ``M`` values of a channel::

        dbeta = sum(dy)        dgamma = sum(dy * xhat)
        training:  dx = gamma * s / M * (M * dy - dbeta - xhat * dgamma)   (mu and var depend on x)
        inference: dx = gamma * s * dy

    Args:
        momentum: of the moving statistics, default 0.99 (Keras). PyTorch's ``momentum`` is ``1 - momentum``
            (its weight of the *batch* statistic; 0.1 by default there, i.e. 0.9 here): export and import
            convert it with ``complement`` (0.99 here is 0.01 in PyTorch),
            and PyTorch updates ``running_var`` with the *unbiased* batch variance (``* M / (M - 1)``); Keras
            and handgrad use the biased one, the variance that normalized the batch.
        epsilon: added to the variance, default 1e-3 (Keras; PyTorch's default ``eps`` is 1e-5).
        name, activity_regularizer: see ``Layer``.

    Params ``gamma`` (ones), ``beta`` (zeros); state ``moving_mean`` (zeros), ``moving_variance`` (ones); all
    of shape ``(C,)``.
    """

    AXES: tuple[int, ...]  # the axes reduced over, besides the batch axis 0
    NDIM: int  # per-sample dimensions

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.momentum = check_number(owner, "momentum", momentum, minimum=0.0, maximum=1.0)
        self.epsilon = check_number(owner, "epsilon", epsilon, minimum=0.0, strict_min=True)

    def _build(self, input_shape, rng):
        if len(input_shape) != self.NDIM:
            raise ShapeError(f"{self.name}: {type(self).__name__} expects per-sample input {self.SHAPE}, "
                             f"got {input_shape}")
        C = input_shape[0]
        self.params = {"gamma": np.ones(C, self.dtype), "beta": np.zeros(C, self.dtype)}
        self.state = {"moving_mean": np.zeros(C, self.dtype), "moving_variance": np.ones(C, self.dtype)}
        return input_shape

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
        statistics = None if training else (self.state["moving_mean"], self.state["moving_variance"])
        y, mean, var, cache = kernels.batch_norm_forward(x, self.params["gamma"], self.params["beta"],
                                                         self.epsilon, statistics)
        if training:
            m = x.dtype.type(self.momentum)
            for key, batch in (("moving_mean", mean), ("moving_variance", var)):
                moving = self.state[key]
                moving[...] = m * moving + (1 - m) * batch  # in place: the model hands out these arrays
        self._cache = (kernels.batch_norm_backward, cache)
        return y

    def _backward(self, dy, input_grad):
        backward, cache = self._cache
        dgamma, dbeta, dx = backward(dy, cache, self.params["gamma"], input_grad)
        self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
        return dx

    # Export: ONNX's inference ``BatchNormalization`` (scale, bias, mean, var, epsilon) and PyTorch's
    # ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` with ``weight``, ``bias``, ``running_mean``, ``running_var``,
    # ``eps = epsilon`` and ``momentum = complement(momentum)``. PyTorch's training mode would update
    # ``running_var`` with the unbiased variance (see above); ``num_batches_tracked`` is not carried (PyTorch
    # reads it only with ``momentum=None``, which import refuses).
    def _onnx(self, graph, x):
        inputs = [x] + [graph.weight(f"{self.name}.{k}", v) for k, v in (
            ("gamma", self.params["gamma"]), ("beta", self.params["beta"]),
            ("moving_mean", self.state["moving_mean"]), ("moving_variance", self.state["moving_variance"]))]
        return graph.node("BatchNormalization", inputs, self.name, epsilon=float(self.epsilon))

    def _torch(self, torch):
        bn = getattr(torch.nn, self.TORCH_MODULE)(self.input_shape[0], eps=self.epsilon,
                                                    momentum=complement(self.momentum))
        bn.weight = torch.nn.Parameter(torch.from_numpy(self.params["gamma"].copy()))
        bn.bias = torch.nn.Parameter(torch.from_numpy(self.params["beta"].copy()))
        bn.running_mean = torch.from_numpy(self.state["moving_mean"].copy())
        bn.running_var = torch.from_numpy(self.state["moving_variance"].copy())
        return [bn.eval()]

    @classmethod
    def _from_torch(cls, module):
        if not module.track_running_stats or module.running_mean is None:
            raise ArgumentError(f"{cls.__name__}: nn.{cls.TORCH_MODULE} with track_running_stats=False normalizes "
                                "with batch statistics at inference too; handgrad's uses moving statistics")
        if module.momentum is None:
            raise ArgumentError(f"{cls.__name__}: nn.{cls.TORCH_MODULE} with momentum=None (a cumulative average) "
                                "has no equivalent; handgrad's moving statistics are exponential averages")
        C = module.num_features
        gamma = module.weight.detach().cpu().numpy() if module.affine else np.ones(C, module.running_mean.numpy().dtype)
        beta = module.bias.detach().cpu().numpy() if module.affine else np.zeros_like(gamma)
        state = {"moving_mean": module.running_mean.detach().cpu().numpy(),
                 "moving_variance": module.running_var.detach().cpu().numpy()}
        layer = cls(momentum=complement(module.momentum), epsilon=float(module.eps))
        return layer, {"gamma": gamma, "beta": beta}, state


class BatchNorm2D(_BatchNorm):
    """Batch normalization per channel of NCHW images (Keras's ``BatchNormalization(axis=1)``, PyTorch's
    ``BatchNorm2d``); see ``_BatchNorm`` for the formulas and arguments.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H, W)``; statistics over ``M = N * H * W`` values per channel.
    """

    AXES, NDIM, SHAPE = (2, 3), 3, "(C, H, W)"
    TORCH_MODULE = "BatchNorm2d"


class BatchNorm1D(_BatchNorm):
    """Batch normalization per feature (Keras's ``BatchNormalization()`` after ``Dense``, PyTorch's
    ``BatchNorm1d``); see ``_BatchNorm`` for the formulas and arguments.

    Shape: ``(N, F)`` -> ``(N, F)``; statistics over ``M = N`` values per feature.
    """

    AXES, NDIM, SHAPE = (), 1, "(features,)"
    TORCH_MODULE = "BatchNorm1d"
