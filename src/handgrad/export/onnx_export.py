"""``to_onnx``: a ``Sequential``'s inference graph as an ONNX file, checked by ``onnx.checker`` and written
atomically; ``run_onnx``: the file's outputs in onnxruntime.

The graph: input ``input`` of shape ``(batch, *model.input_shape)`` (the batch axis dynamic), the layers'
nodes in order (each layer writes its own, ``Layer.to_onnx_nodes``), output ``logits`` ``(batch, K)`` =
``model.forward(x, training=False)``; with ``probabilities=True`` a second output ``probabilities`` =
``Softmax(logits, axis=1)``. Tensors are float32 (a float64 model's weights are rounded to float32).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handgrad._atomic import atomic_write
from handgrad._validation import check_int
from handgrad.errors import ArgumentError, ArgumentTypeError
from handgrad.export.extras import require
from handgrad.export.onnx_graph import Node, OnnxGraph
from handgrad.sequential import Sequential

MIN_OPSET = 13  # Softmax over one axis (opset 13); every other operator used is older
INPUT, LOGITS, PROBABILITIES = "input", "logits", "probabilities"
BATCH = "batch"  # the name of the dynamic batch dimension


def record(model: Sequential, probabilities: bool = False, opset: int = 17) -> OnnxGraph:
    """The model's inference computation for ``opset`` as an ``OnnxGraph`` (plain data; no ONNX package
    needed)."""
    if not isinstance(model, Sequential):
        raise ArgumentTypeError(f"to_onnx: model must be a handgrad Sequential, got {type(model).__name__}")
    graph = OnnxGraph(np.float32, opset)
    for name in (INPUT, LOGITS, PROBABILITIES):
        graph.unique(name)  # reserved: a layer named "logits" gets "logits_1"
    x = INPUT
    for layer in model.layers:
        x = layer.to_onnx_nodes(graph, x)
    graph.nodes.append(Node("Identity", [x], [LOGITS], LOGITS))  # the reserved output names
    if probabilities:
        graph.nodes.append(Node("Softmax", [LOGITS], [PROBABILITIES], PROBABILITIES, {"axis": 1}))
    return graph


def build(model: Sequential, opset: int = 17, probabilities: bool = False, metadata: dict | None = None):
    """The checked ``onnx.ModelProto`` of ``model`` (see the module docstring); ``metadata``: str -> str pairs
    stored in the model's ``metadata_props`` (``handgrad export`` stores the class names and the input
    normalization there)."""
    onnx = require("onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    newest = onnx.defs.onnx_opset_version()
    opset = check_int("to_onnx", "opset", opset, minimum=MIN_OPSET)
    if opset > newest:
        raise ArgumentError(f"to_onnx: opset must be at most {newest} (the newest this onnx {onnx.__version__} "
                         f"knows), got {opset}")
    graph = record(model, probabilities, opset)
    nodes = [helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attributes) for n in graph.nodes]
    weights = [numpy_helper.from_array(w, name) for name, w in graph.weights.items()]
    K = model.num_classes
    outputs = [helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, [BATCH, K])]
    if probabilities:
        outputs.append(helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, [BATCH, K]))
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [BATCH, *model.input_shape])]
    body = helper.make_graph(nodes, "handgrad_sequential", inputs, outputs, initializer=weights)
    opsets = [helper.make_opsetid("", opset)]
    from handgrad import __version__
    proto = helper.make_model(body, opset_imports=opsets, producer_name="handgrad", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = f"handgrad {model!r}: logits = forward(x, training=False)"
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    onnx.checker.check_model(proto, full_check=True)  # full_check: shape inference agrees with the declared shapes
    return proto


def to_onnx(model: Sequential, path, opset: int = 17, *, probabilities: bool = False,
            metadata: dict | None = None) -> Path:
    """Write ``model``'s inference graph to ``path`` (ONNX, ``opset`` >= 13, default 17), atomically, after
    ``onnx.checker.check_model`` passed. Returns the path.

    Every layer must be able to export itself (``ArgumentError`` naming the first that cannot); needs the
    ``onnx`` package (``pip install 'handgrad[onnx]'``; ``MissingExtraError`` without it).
    """
    proto = build(model, opset, probabilities, metadata)
    data = proto.SerializeToString()
    return atomic_write(path, lambda f: f.write(data))


def session(path, threads: int | None = None):
    """An onnxruntime ``InferenceSession`` of the file on the CPU, with ``threads`` intra-op threads (default:
    onnxruntime's) and one inter-op thread (the graph is a chain)."""
    ort = require("onnxruntime", "running an ONNX file")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = check_int("session", "threads", threads, minimum=1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path, x, threads: int | None = None) -> dict[str, np.ndarray]:
    """``{output name: array}`` of the ONNX file at ``path`` on the batch ``x`` (converted to float32)."""
    sess = session(path, threads)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})))
