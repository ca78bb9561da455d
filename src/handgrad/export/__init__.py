"""Export a trained ``Sequential`` to ONNX or PyTorch, and import an ``nn.Sequential`` back from PyTorch.

=====================================  =============================================================
function                               what
=====================================  =============================================================
``to_onnx(model, path, opset=17)``     the inference graph, dynamic batch axis, checked and written
                                       atomically (``onnx_export``); needs ``handgrad[onnx]``
``run_onnx(path, x, threads=None)``    the file's outputs in onnxruntime; needs ``handgrad[onnx]``
``to_torch(model)``                    an ``nn.Sequential`` of PyTorch's modules, eval mode; needs
                                       ``handgrad[torch]``
``from_torch(module, input_shape)``    a ``Sequential`` from an ``nn.Sequential`` (``torch_export``)
=====================================  =============================================================

Each layer writes its own ONNX nodes (``_onnx``) and PyTorch modules (``_torch``), and reads its PyTorch
module back (``_from_torch``), in its own file; a layer without them is refused by name. Exportable today:
Conv2D (every padding, stride and algorithm, with its built-in activation), Dense, MaxPool2D, AvgPool2D,
Flatten, ELU, ReLU, LeakyReLU, Tanh, Sigmoid, BatchNorm1D/2D (with their moving statistics), LayerNorm
(``LayerNormalization`` from opset 17), GroupNorm (basic operators at every opset), and Dropout and
ActivityRegularization as identities (``nn.Dropout`` / ``nn.Identity`` in PyTorch; ActivityRegularization
has no PyTorch module to import back).

onnx, onnxruntime and torch are imported inside these functions only: handgrad runs without them, and a
missing one is a ``MissingExtraError`` naming the extra to install.
"""
from handgrad.export.onnx_export import run_onnx, to_onnx
from handgrad.export.torch_export import from_torch, to_torch

__all__ = ["from_torch", "run_onnx", "to_onnx", "to_torch"]
