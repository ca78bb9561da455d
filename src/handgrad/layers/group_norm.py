"""Group normalization: each example's channels split into groups, each group normalized on its own."""
from __future__ import annotations

import numpy as np

from handgrad._validation import ShapeError, check_int, check_number
from handgrad.errors import ArgumentError
from handgrad.kernels import backend
from handgrad.layers.base import Layer


class GroupNorm(Layer):
    r"""Normalize each group of ``C / G`` channels of each example, then scale and shift each channel.

    With ``mu`` and ``var`` the mean and biased variance over the ``M = C/G * H * W`` values of one group of
    one example (``H * W`` read as 1 for ``(N, C)`` inputs)::

        xhat = (x - mu) / sqrt(var + epsilon)        y = gamma[c] * xhat + beta[c]

    Backward, with ``s = 1 / sqrt(var + epsilon)``, ``dxhat = gamma[c] * dy`` and sums over one group::

        dgamma[c] = sum_{n, h, w} dy * xhat      dbeta[c] = sum_{n, h, w} dy
        dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    The same in training and inference (no state). ``groups=1`` normalizes over all of an example's values
    (LayerNorm with per-channel gamma); ``groups=C`` is instance normalization. PyTorch: ``nn.GroupNorm(G, C)``;
    CS231n: ``spatial_groupnorm_forward`` (whose gamma has shape ``(1, C, 1, 1)``).

    Args:
        groups: ``G``, which must divide the number of channels ``C``.
        epsilon: added to the variance, default 1e-5 (PyTorch's and CS231n's; Keras's is 1e-3).
        name, activity_regularizer: see ``Layer``.

    Params ``gamma`` (ones), ``beta`` (zeros), both of shape ``(C,)``.

    Shape: ``(N, C, H, W)`` or ``(N, C)`` -> the same.
    """

    def __init__(self, groups: int, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.groups = check_int("GroupNorm", "groups", groups, minimum=1)
        self.epsilon = check_number("GroupNorm", "epsilon", epsilon, minimum=0.0, strict_min=True)

    def _build(self, input_shape, rng):
        if len(input_shape) not in (1, 3):
            raise ShapeError(f"{self.name}: GroupNorm expects per-sample input (C, H, W) or (C,), got {input_shape}")
        C = input_shape[0]
        if C % self.groups:
            raise ShapeError(f"{self.name}: groups={self.groups} must divide the number of channels, got C = {C} "
                             f"(input {input_shape})")
        self.params = {"gamma": np.ones(C, self.dtype), "beta": np.zeros(C, self.dtype)}
        return input_shape

    def _channel(self, v):
        """``(C,)`` -> broadcastable against ``(N, C, ...)``."""
        return v.reshape((1, -1) + (1,) * (len(self.input_shape) - 1))

    def _forward(self, x, training):
        N = x.shape[0]
        kernels = backend.active()  # chosen per call; backward uses the same set
        xhat, inv_std = kernels.standardize(x.reshape(N, self.groups, -1), self.epsilon)  # (N, G, M), (N, G, 1)
        xhat = xhat.reshape(x.shape)
        self._cache = (kernels.standardize_backward, xhat, inv_std)
        return xhat * self._channel(self.params["gamma"]) + self._channel(self.params["beta"])

    def _backward(self, dy, input_grad):
        standardize_backward, xhat, inv_std = self._cache
        axes = (0, *range(2, dy.ndim))  # all but the channel axis
        self.grads["gamma"] = np.sum(dy * xhat, axis=axes)
        self.grads["beta"] = dy.sum(axis=axes)
        if not input_grad:
            return None
        N = dy.shape[0]
        dxhat = (dy * self._channel(self.params["gamma"])).reshape(N, self.groups, -1)  # (N, G, M)
        return standardize_backward(dxhat, xhat.reshape(N, self.groups, -1), inv_std).reshape(dy.shape)

    # Export: ONNX's ``GroupNormalization`` exists only from opset 18, and opset 21 changed its scale and bias
    # from per-group to per-channel; the graph is built from basic operators instead (``OnnxGraph.standardize``:
    # Reshape, ReduceMean, Sub, Mul, Add, Sqrt, Reciprocal), the same at every opset >= 13, then gamma and beta
    # per channel. PyTorch: ``nn.GroupNorm(groups, C, eps=epsilon)``, ``weight`` and ``bias`` of shape ``(C,)``.
    TORCH_MODULE = "GroupNorm"

    def _onnx(self, graph, x):
        xhat = graph.standardize(x, self.groups, self.input_shape, self.epsilon, self.name)
        per_channel = self.params["gamma"].shape + (1,) * (len(self.input_shape) - 1)  # (C, 1, 1) or (C,)
        gamma = graph.weight(f"{self.name}.gamma", self.params["gamma"].reshape(per_channel))
        beta = graph.weight(f"{self.name}.beta", self.params["beta"].reshape(per_channel))
        return graph.node("Add", [graph.node("Mul", [xhat, gamma], f"{self.name}.scaled"), beta], self.name)

    def _torch(self, torch):
        C = self.input_shape[0]
        norm = torch.nn.GroupNorm(self.groups, C, eps=self.epsilon)
        norm.weight = torch.nn.Parameter(torch.from_numpy(self.params["gamma"].copy()))
        norm.bias = torch.nn.Parameter(torch.from_numpy(self.params["beta"].copy()))
        return [norm.eval()]

    @classmethod
    def _from_torch(cls, module):
        if not module.affine:
            raise ArgumentError("GroupNorm: nn.GroupNorm needs affine=True (handgrad's GroupNorm always has gamma "
                                "and beta)")
        params = {"gamma": module.weight.detach().cpu().numpy(), "beta": module.bias.detach().cpu().numpy()}
        return cls(module.num_groups, epsilon=float(module.eps)), params, {}

    def __repr__(self) -> str:
        extra = "" if self.epsilon == 1e-5 else f", epsilon={self.epsilon!r}"
        return f"GroupNorm({self.groups}, name={self.name!r}{extra})"
