"""``OnnxGraph``: the plain record of nodes and weights that each layer's ``_onnx`` method writes into.

It holds no ONNX object and imports no ONNX package: a layer writes ``graph.node("Conv", [x, w], ...)`` with
names and NumPy arrays, and ``handgrad.export.onnx`` turns the record into an ``onnx.ModelProto`` (the only
place that imports ``onnx``). Tensor names are made unique here, so two layers may ask for the same name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Node:
    """One ONNX node: ``op_type`` (``"Conv"``, ``"Relu"``, ...), input and output tensor names, attributes."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str
    attributes: dict = field(default_factory=dict)


class OnnxGraph:
    """Nodes in execution order and the weights (initializers) they read.

    Args:
        dtype: the element type of the exported tensors (float32: what onnxruntime's CPU kernels run); every
            weight given to ``weight`` is converted to it.
        opset: the ONNX opset the graph is written for (a layer may pick its operators by it: ``LayerNorm``
            writes ``LayerNormalization`` from opset 17; ``reduce_mean`` takes its axes as an input from 18).
    """

    def __init__(self, dtype=np.float32, opset: int = 17):
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.nodes: list[Node] = []
        self.weights: dict[str, np.ndarray] = {}
        self._taken: set[str] = set()

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``, ... if it is taken; the returned name is taken from now on."""
        candidate, n = name, 0
        while candidate in self._taken:
            n += 1
            candidate = f"{name}_{n}"
        self._taken.add(candidate)
        return candidate

    def weight(self, name: str, array) -> str:
        """Store ``array`` (converted to the graph's dtype, copied) as an initializer; return its tensor name."""
        name = self.unique(name)
        self.weights[name] = np.array(array, dtype=self.dtype, copy=True)
        return name

    def node(self, op_type: str, inputs, name: str, **attributes) -> str:
        """Append a node with one output named after ``name``; return the output's tensor name.

        ``attributes`` are ONNX attributes (ints, floats, lists of ints).
        """
        output = self.unique(name)
        self.nodes.append(Node(op_type, list(inputs), [output], output, attributes))
        return output

    def ints(self, name: str, values) -> str:
        """Store ``values`` as an int64 initializer (a ``Reshape`` shape, ``ReduceMean`` axes); return its name."""
        name = self.unique(name)
        self.weights[name] = np.array(values, dtype=np.int64)
        return name

    def reduce_mean(self, x: str, axes, name: str) -> str:
        """``ReduceMean(x, axes, keepdims=1)``: the axes are an attribute up to opset 17, an input from 18."""
        if self.opset >= 18:
            return self.node("ReduceMean", [x, self.ints(f"{name}.axes", axes)], name, keepdims=1)
        return self.node("ReduceMean", [x], name, axes=list(axes), keepdims=1)

    def standardize(self, x: str, groups: int, shape, epsilon: float, name: str) -> str:
        """The nodes of ``handgrad.kernels.numpy.normalization.standardize`` on ``x`` of shape ``(N, *shape)`` read
        as ``(N, groups, M)``, reshaped back to ``(N, *shape)``: the same operations in the same order, from
        operators every opset >= 13 has (``Reshape``'s 0 copies the dynamic batch size)::

            mean = ReduceMean(xg, 2)    centered = xg - mean    var = ReduceMean(centered * centered, 2)
            xhat = centered * Reciprocal(Sqrt(var + epsilon))
        """
        xg = self.node("Reshape", [x, self.ints(f"{name}.grouped_shape", [0, groups, -1])], f"{name}.grouped")
        mean = self.reduce_mean(xg, [2], f"{name}.mean")  # (N, G, 1)
        centered = self.node("Sub", [xg, mean], f"{name}.centered")
        square = self.node("Mul", [centered, centered], f"{name}.square")
        var = self.reduce_mean(square, [2], f"{name}.var")  # (N, G, 1), biased
        shifted = self.node("Add", [var, self.weight(f"{name}.epsilon", epsilon)], f"{name}.var_eps")
        inv_std = self.node("Reciprocal", [self.node("Sqrt", [shifted], f"{name}.std")], f"{name}.inv_std")
        xhat = self.node("Mul", [centered, inv_std], f"{name}.xhat")  # (N, G, M)
        return self.node("Reshape", [xhat, self.ints(f"{name}.shape", [0, *shape])], f"{name}.xhat_shaped")
