"""Finding a user's layer functions by CS231n's names.

``<stem>_forward[_naive|_fast]`` pairs with ``<stem>_backward`` of the same suffix; ``batchnorm_backward_alt``
pairs with ``batchnorm_forward`` as the layer ``batchnorm_alt``; ``softmax_loss`` and ``svm_loss`` stand
alone. The layer is named by its stem, ``_fast`` variants as ``<stem>_fast`` (``conv_fast``,
``max_pool_fast``); a plain ``conv_forward`` beside a ``conv_forward_naive`` is ``conv`` and the naive one
``conv_naive``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handgrad.gradcheck.layers_doctor.conventions import KINDS, Convention, convention

STEMS = ("affine", "relu", "conv", "max_pool", "batchnorm", "spatial_batchnorm", "layernorm", "spatial_groupnorm",
         "dropout")
LOSSES = ("softmax_loss", "svm_loss")


@dataclass(frozen=True)
class LayerSpec:
    """One layer to check: its name in the report, its convention and the user's two functions."""

    name: str
    convention: Convention
    forward: Callable
    backward: Callable | None  # None for the losses (and a forward without its backward)


def _function(namespace, name):
    value = namespace.get(name)
    return value if callable(value) else None


def discover(module) -> list[LayerSpec]:
    """The layers of ``module`` (or a dict of names) that follow CS231n's names, in the order of ``STEMS``."""
    namespace = module if isinstance(module, dict) else vars(module)
    specs = []
    for stem in STEMS:
        kind = KINDS[stem]
        plain = _function(namespace, f"{stem}_forward")
        for suffix in ("", "_naive", "_fast"):
            forward = _function(namespace, f"{stem}_forward{suffix}")
            if forward is None:
                continue
            name = stem + ("_fast" if suffix == "_fast" else "_naive" if suffix == "_naive" and plain else "")
            specs.append(LayerSpec(name, kind, forward, _function(namespace, f"{stem}_backward{suffix}")))
            alt = _function(namespace, f"{stem}_backward_alt{suffix}")
            if alt is not None:
                specs.append(LayerSpec(f"{name}_alt", kind, forward, alt))
    for name in LOSSES:
        function = _function(namespace, name)
        if function is not None:
            specs.append(LayerSpec(name, KINDS[name], function, None))
    return specs


def adapted(layers: dict) -> list[LayerSpec]:
    """``{"my_conv": (forward, backward, "cs231n_conv")}`` -> specs; bad entries are a ``ValueError``."""
    specs = []
    for name, entry in layers.items():
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise ValueError(f"check_layers: layers[{name!r}] must be (forward, backward, convention), e.g. "
                             f"(conv_fwd, conv_bwd, 'cs231n_conv'), got {type(entry).__name__}")
        forward, backward, conv = entry
        conv = convention(conv)
        if not callable(forward) or not (callable(backward) or backward is None and conv.loss):
            raise ValueError(f"check_layers: layers[{name!r}]: forward and backward must be functions "
                             f"(backward None for a loss)")
        specs.append(LayerSpec(str(name), conv, forward, None if conv.loss else backward))
    return specs
