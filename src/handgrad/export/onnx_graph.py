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
    """

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
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
