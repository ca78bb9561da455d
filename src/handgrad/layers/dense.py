"""Fully connected layer."""
from __future__ import annotations

from handgrad._validation import ShapeError, check_int
from handgrad.kernels import backend
from handgrad.layers.base import ParametricLayer


class Dense(ParametricLayer):
    """``y = act(x @ W + b)``.

    Args:
        units: output features ``out``.
        activation, use_bias, kernel_regularizer, bias_regularizer, activity_regularizer, kernel_initializer,
        name: as for ``Conv2D``.

    Shape:
        input ``(N, in)``; ``W``: ``(in, out)`` (Keras's layout; PyTorch's ``Linear.weight`` is ``W.T``);
        ``b``: ``(out,)``; output ``(N, out)``.

    Backward: ``dW = x.T @ dz``, ``db = sum_rows(dz)``, ``dx = dz @ W.T`` (the active kernel set's
    ``dense_forward``/``dense_backward``). ``backward`` reads the input array given to ``forward``.
    """

    def __init__(self, units: int, activation=None, use_bias=True, kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_initializer="glorot_uniform", name=None):
        super().__init__(use_bias=use_bias, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, kernel_initializer=kernel_initializer,
                         activation=activation, activity_regularizer=activity_regularizer, name=name)
        self.units = check_int("Dense", "units", units, minimum=1)

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ShapeError(f"{self.name}: Dense expects a flat per-sample input (features,), got {input_shape}; "
                             "put a Flatten layer before it")
        (fan_in,) = input_shape
        self._create_params((fan_in, self.units), fan_in, self.units, self.units, rng)
        return (self.units,)

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
        self._cache = (kernels.dense_backward, (x, self.params["W"]))  # run by ParametricLayer._backward
        z = kernels.dense_forward(x, self.params["W"], self.params.get("b"))  # (N, out)
        return self._activate(z, training)

    # Export: ONNX's ``Gemm`` (``x @ W + b``, W as it is) then the activation; ``nn.Linear`` holds ``W.T``.
    TORCH_MODULE = "Linear"

    def _onnx(self, graph, x):
        inputs = [x, graph.weight(f"{self.name}.W", self.params["W"])]
        if self.use_bias:
            inputs.append(graph.weight(f"{self.name}.b", self.params["b"]))
        return self._onnx_activate(graph, graph.node("Gemm", inputs, self.name))

    def _torch(self, torch):
        fan_in, units = self.params["W"].shape
        linear = torch.nn.Linear(fan_in, units, bias=self.use_bias)
        return [self._torch_weights(torch, linear, self.params["W"].T), *self._torch_activate(torch)]

    @classmethod
    def _from_torch(cls, module):
        params = {"W": module.weight.detach().cpu().numpy().T}  # (in, out)
        if module.bias is not None:
            params["b"] = module.bias.detach().cpu().numpy()
        return cls(module.out_features, use_bias=module.bias is not None), params, {}
