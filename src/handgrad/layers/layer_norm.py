"""Layer normalization: each example normalized over all its own values (no batch statistics)."""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_number
from handgrad.errors import ArgumentError
from handgrad.kernels import backend
from handgrad.layers.base import Layer


class LayerNorm(Layer):
    r"""Normalize each example over all its per-sample values, then scale and shift each value.

    With ``mu`` and ``var`` the mean and biased variance of one example's ``M = prod(input_shape)`` values::

        xhat = (x - mu) / sqrt(var + epsilon)        y = gamma * xhat + beta

    Backward, with ``s = 1 / sqrt(var + epsilon)``, ``dxhat = gamma * dy`` and sums over one example::

        dgamma = sum_n dy * xhat      dbeta = sum_n dy
        dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    The same in training and inference: LayerNorm has no state (PyTorch's ``nn.LayerNorm(input_shape)``,
    CS231n's ``layernorm_forward`` for ``(N, D)`` inputs).

    Args:
        epsilon: added to the variance, default 1e-5 (PyTorch's and CS231n's; Keras's is 1e-3).
        name, activity_regularizer: see ``Layer``.

    Params ``gamma`` (ones), ``beta`` (zeros), both of the per-sample input shape.

    Shape: ``(N, *input_shape)`` -> the same.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = check_number("LayerNorm", "epsilon", epsilon, minimum=0.0, strict_min=True)

    def _build(self, input_shape, rng):
        self.params = {"gamma": np.ones(input_shape, self.dtype), "beta": np.zeros(input_shape, self.dtype)}
        return input_shape

    def _forward(self, x, training):
        N = x.shape[0]
        kernels = backend.active()  # chosen per call; backward uses the same set
        xhat, inv_std = kernels.standardize(x.reshape(N, -1), self.epsilon)  # (N, M), (N, 1)
        xhat = xhat.reshape(x.shape)
        self._cache = (kernels.standardize_backward, xhat, inv_std)
        return xhat * self.params["gamma"] + self.params["beta"]

    def _backward(self, dy, input_grad):
        standardize_backward, xhat, inv_std = self._cache
        self.grads["gamma"] = np.sum(dy * xhat, axis=0)
        self.grads["beta"] = dy.sum(axis=0)
        if not input_grad:
            return None
        N = dy.shape[0]
        dxhat = (dy * self.params["gamma"]).reshape(N, -1)  # (N, M)
        return standardize_backward(dxhat, xhat.reshape(N, -1), inv_std).reshape(dy.shape)

    # Export: ONNX's ``LayerNormalization(axis=1)`` from opset 17 (below it, the same computation from basic
    # operators, ``OnnxGraph.standardize`` with one group), and ``nn.LayerNorm(input_shape, eps=epsilon)`` whose
    # ``weight`` and ``bias`` have the per-sample shape, like gamma and beta.
    TORCH_MODULE = "LayerNorm"

    def _onnx(self, graph, x):
        gamma = graph.weight(f"{self.name}.gamma", self.params["gamma"])
        beta = graph.weight(f"{self.name}.beta", self.params["beta"])
        if graph.opset >= 17:
            return graph.node("LayerNormalization", [x, gamma, beta], self.name, axis=1, epsilon=float(self.epsilon))
        xhat = graph.standardize(x, 1, self.input_shape, self.epsilon, self.name)
        return graph.node("Add", [graph.node("Mul", [xhat, gamma], f"{self.name}.scaled"), beta], self.name)

    def _torch(self, torch):
        norm = torch.nn.LayerNorm(self.input_shape, eps=self.epsilon)
        norm.weight = torch.nn.Parameter(torch.from_numpy(self.params["gamma"].copy()))
        norm.bias = torch.nn.Parameter(torch.from_numpy(self.params["beta"].copy()))
        return [norm.eval()]

    @classmethod
    def _from_torch(cls, module):
        if module.weight is None or module.bias is None:
            raise ArgumentError("LayerNorm: nn.LayerNorm needs elementwise_affine=True and bias=True (handgrad's "
                                "LayerNorm always has gamma and beta)")
        # gamma's shape is normalized_shape: from_torch refuses it unless it is the whole per-sample shape
        params = {"gamma": module.weight.detach().cpu().numpy(), "beta": module.bias.detach().cpu().numpy()}
        return cls(epsilon=float(module.eps)), params, {}

    def __repr__(self) -> str:
        extra = "" if self.epsilon == 1e-5 else f", epsilon={self.epsilon!r}"
        return f"LayerNorm(name={self.name!r}{extra})"
