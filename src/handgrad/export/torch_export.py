"""``to_torch``: a ``Sequential`` as an ``nn.Sequential`` of PyTorch's own modules; ``from_torch``: back.

``to_torch(model)`` asks each layer for its modules (``Layer.to_torch_modules``): the same weights (Dense's
``W`` transposed into ``nn.Linear.weight``) and moving statistics, in the model's dtype, in eval mode.
``from_torch(module, input_shape)`` reads an ``nn.Sequential`` whose children are exactly the ``torch.nn``
classes handgrad's layers name in ``TORCH_MODULE`` (``Conv2d``, ``Linear``, ``MaxPool2d``, ``AvgPool2d``,
``Flatten``, ``ELU``, ``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, ``BatchNorm1d``, ``BatchNorm2d``,
``LayerNorm`` (over the whole per-sample shape), ``GroupNorm``, ``Dropout``); anything else, a subclass
included, is refused naming the module. ``to_torch(from_torch(m, shape))`` has ``m``'s parameters and running
statistics bit for bit (``num_batches_tracked`` aside).

BatchNorm momentum: Keras and handgrad weight the *old* moving statistic (``moving = m * moving + (1 - m) *
batch``, default 0.99), PyTorch the *batch* statistic (``running = (1 - p) * running + p * batch``, default
0.1): ``p = 1 - m``, converted in decimal both ways (``handgrad.layers.batchnorm.complement``: 0.99 <-> 0.01,
0.9 <-> 0.1 exactly). PyTorch's training mode updates ``running_var`` with the unbiased batch variance,
handgrad with the biased one; inference (eval mode) is the same formula on both sides.
"""
from __future__ import annotations

import numpy as np

from handgrad import layers as layer_classes
from handgrad.errors import ArgumentError, ArgumentTypeError
from handgrad.export.extras import require
from handgrad.layers.base import Layer
from handgrad.sequential import Sequential


def to_torch(model: Sequential):
    """An ``nn.Sequential`` computing ``model.forward(x, training=False)``, in eval mode."""
    torch = require("torch", "handgrad.export.to_torch")
    if not isinstance(model, Sequential):
        raise ArgumentTypeError(f"to_torch: model must be a handgrad Sequential, got {type(model).__name__}")
    modules = [m for layer in model.layers for m in layer.to_torch_modules(torch)]
    return torch.nn.Sequential(*modules).eval()


def importable() -> dict[str, type]:
    """``{torch.nn class name: handgrad layer class}`` of the layers exported by ``handgrad.layers``."""
    out = {}
    for name in layer_classes.__all__:
        cls = getattr(layer_classes, name)
        if isinstance(cls, type) and issubclass(cls, Layer) and cls.TORCH_MODULE is not None:
            out[cls.TORCH_MODULE] = cls
    return out


def from_torch(module, input_shape, seed: int = 0) -> Sequential:
    """A handgrad ``Sequential`` with ``module``'s layers, weights and running statistics.

    Args:
        module: an ``nn.Sequential`` of the supported modules (see the module docstring).
        input_shape: per-sample input shape, e.g. ``(1, 28, 28)`` (PyTorch modules do not record it).
        seed: the model's seed (Dropout masks; the weights are the module's).

    ``ArgumentError`` naming the first module (index and class) that has no equivalent or a setting handgrad
    lacks; the model's dtype is the parameters' (float32 or float64).
    """
    torch = require("torch", "handgrad.export.from_torch")
    if type(module) is not torch.nn.Sequential:
        raise ArgumentTypeError(f"from_torch: module must be a torch.nn.Sequential, got {type(module).__name__}")
    classes = importable()
    built, imported = [], []
    for i, child in enumerate(module):
        kind = type(child).__name__
        cls = classes.get(kind)
        what = f"from_torch: module [{i}] ({kind})"
        if cls is None or type(child) is not getattr(torch.nn, kind, None):
            raise ArgumentError(f"{what} has no handgrad equivalent; supported: torch.nn."
                                f"{', torch.nn.'.join(sorted(classes))} (exactly these classes)")
        try:
            layer, params, state = cls._from_torch(child)
        except (ValueError, TypeError) as e:
            raise ArgumentError(f"{what}: {e}") from e
        built.append(layer)
        imported.append((what, params, state))
    dtype = _dtype(imported)
    model = Sequential(built, input_shape=input_shape, seed=seed, dtype=dtype)
    full = model.state_dict()
    for layer, (what, params, state) in zip(model.layers, imported):
        for key, value in {**params, **state}.items():
            target = full[f"{layer.name}.{key}"]
            if value.shape != target.shape:
                raise ArgumentError(f"{what}: its {key} has shape {value.shape}; for input {layer.input_shape} "
                                    f"handgrad's {type(layer).__name__} needs {target.shape}")
            full[f"{layer.name}.{key}"] = value
    model.load_state_dict(full)
    return model


def _dtype(imported):
    """The one floating dtype (float32 or float64) of the imported arrays; float32 when there are none."""
    dtypes = {np.dtype(v.dtype) for _, params, state in imported for v in (*params.values(), *state.values())}
    if not dtypes:
        return np.float32
    if len(dtypes) > 1 or dtypes - {np.dtype(np.float32), np.dtype(np.float64)}:
        raise ArgumentTypeError(f"from_torch: the module's parameters must all be float32 or all float64, got "
                                f"{sorted(d.name for d in dtypes)}")
    return dtypes.pop()
