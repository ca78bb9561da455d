"""The registry of layer cases (PyTorch's OpInfo): one entry per public layer class, read by every layer test.

``LAYERS`` has one ``LayerInfo`` per class of ``handgrad.layers.__all__`` (``tests/layers/test_layer_cases.py``
fails for a class without one):

- ``cases``: ``LayerCase``s, each a configuration of the class on a batch: the constructor (``make``, called
  with ``fd_kwargs`` added for the finite-difference check: penalties, a built-in activation), the batch shape,
  the ``modes`` (``training`` values, each with its own forward and backward) and how to draw its input and
  non-trivial weights;
- ``torch``: the PyTorch twin with identical weights (``tests/torch_oracle.py``), None where there is none;
- ``draw`` and ``rank``: random constructor arguments for the property tests (``tests/test_properties.py``,
  Hypothesis) and the per-sample rank the layer takes (None: any);
- ``state``: the names of its state arrays (``tests/test_layer_state.py`` round-trips them);
- ``notes``: dtypes and modes that are not checked, and why.

Readers: ``tests/layers/test_layer_cases.py`` (finite differences in float64 in every mode, PyTorch in every
mode), ``tests/test_properties.py``, ``tests/test_layer_state.py`` and the per-layer files, which add what is
particular to one layer (BatchNorm's moving statistics over several steps, Conv2D's loop reference).

A new layer is one entry here (plus its own file for what is particular to it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
from hypothesis import strategies as st

import handgrad as hg
from handgrad.layers.base import default_name
from tests import torch_oracle as oracle


def normal(rng, shape):
    return rng.standard_normal(shape)


def away_from_kinks(rng, shape):
    """``3 N(0, 1)``, at least 3e-3 from 0 where ReLU-like derivatives jump (finite differences straddle no kink)."""
    x = rng.standard_normal(shape)
    return 3 * np.where(np.abs(x) < 1e-3, 0.5, x)


def shifted(rng, shape):
    """Mean and scale far from 0 and 1, so that a normalization's every term matters."""
    return 2.0 + 1.5 * rng.standard_normal(shape)


def random_constants(layer, rng):
    """Parameters whose entries are all equal after build get random ones (a gamma of ones or a bias of zeros
    hides a missing factor or term): ``c * U(0.5, 2)`` for a constant ``c != 0``, ``N(0, 1)`` for zeros."""
    for p in layer.params.values():
        if p.size and np.all(p == p.flat[0]):
            p[...] = p.flat[0] * rng.uniform(0.5, 2.0, p.shape) if p.flat[0] != 0 else rng.standard_normal(p.shape)


def random_moving_statistics(layer, rng):
    random_constants(layer, rng)
    C = layer.state["moving_mean"].shape
    layer.state["moving_mean"][...] = rng.standard_normal(C)
    layer.state["moving_variance"][...] = rng.uniform(0.5, 3.0, C)


TIGHT = (1e-12, 1e-12)  # (rtol, atol) of a comparison with PyTorch in float64


@dataclass(frozen=True)
class LayerCase:
    """One configuration of a layer class on one batch."""

    id: str
    make: Callable  # make(**kwargs) -> a fresh layer; the checks add fd_kwargs
    shape: tuple  # the batch (N, ...)
    fd_kwargs: dict = field(default_factory=dict)  # constructor arguments of the finite-difference check
    modes: tuple = (False,)  # the ``training`` values to check
    data: Callable = normal  # (rng, shape) -> the input
    prepare: Callable = random_constants  # (layer, rng): non-trivial weights and state after build
    fd_tol: float | None = None  # check_layer's tol (None: its default)
    min_checked: int = 0  # the input's output term checks at least this many entries, max rel. error < 1e-5
    torch_tol: dict = field(default_factory=dict)  # "y", "dx" or a parameter name -> (rtol, atol); else TIGHT

    def build(self, rng, for_fd=False):
        """A float64 layer built for ``shape``, prepared, with its input ``x``: ``(layer, x)``."""
        layer = self.make(**(self.fd_kwargs if for_fd else {}))
        layer.build(self.shape[1:], rng=rng, dtype=np.float64)
        self.prepare(layer, rng)
        return layer, self.data(rng, self.shape)

    def tol(self, key):
        return self.torch_tol.get(key, TIGHT)

    def __str__(self):
        return self.id


@dataclass(frozen=True)
class LayerInfo:
    """A public layer class: its cases, PyTorch twin, property-test arguments and state."""

    cls: type
    cases: tuple
    torch: Callable | None  # (layer, X, P, training) -> Y, see tests/torch_oracle.py
    draw: Callable  # (draw) -> a layer with random constructor arguments (Hypothesis)
    rank: int | None = None  # per-sample rank the layer takes; None: any
    state: tuple = ()  # names of its state arrays
    notes: str = ""

    @property
    def name(self):
        return default_name(self.cls)


def _case(cls, id, *args, shape, **options):
    """A case whose constructor is ``cls(*args, **constructor kwargs)``; ``options`` are ``LayerCase`` fields
    except those named in ``make_kwargs``."""
    make_kwargs = options.pop("make_kwargs", {})
    return LayerCase(id, partial(cls, *args, **make_kwargs), shape, **options)


# ---- activations: FD on inputs away from their kinks, with an L1L2 activity penalty
ACTIVATION_FD = {"activity_regularizer": hg.L1L2(0.01, 0.1)}
ACTIVATION_TOL = {"y": (1e-12, 1e-14), "dx": (1e-12, 1e-14)}


def _activation(cls, id, *args, **make_kwargs):
    return LayerCase(id, partial(cls, *args, **make_kwargs), (4, 3, 5, 5), ACTIVATION_FD, data=away_from_kinks,
                     torch_tol=ACTIVATION_TOL)


# ---- Conv2D: (input (N, C, H, W), filters, kernel, stride, padding)
CONV_CONFIGS = [
    ((2, 3, 7, 7), 4, 3, 1, "same"),
    ((2, 3, 8, 6), 5, (3, 2), 2, "valid"),
    ((2, 2, 9, 7), 3, (2, 4), (2, 1), "same"),  # even kernel: asymmetric "same" padding
    ((3, 1, 6, 5), 2, 5, 2, 1),
    ((1, 4, 5, 5), 6, 1, 1, "valid"),
]
CONV_FD = {"activation": "elu", "kernel_regularizer": hg.L1L2(0.01, 0.02), "bias_regularizer": hg.L2(0.03),
           "activity_regularizer": hg.L1L2(0.01, 0.05)}
DENSE_FD = {"kernel_regularizer": hg.L1L2(0.01, 0.02), "bias_regularizer": hg.L1(0.03),
            "activity_regularizer": hg.L2(0.05)}
DENSE_ACTIVATIONS = [None, "elu", "relu", "tanh", "sigmoid", "leaky_relu"]
# ---- pooling: (input, pool_size, stride)
POOL_CONFIGS = [((2, 3, 8, 8), 2, None), ((2, 2, 7, 9), 2, None), ((1, 2, 7, 7), 3, 2), ((2, 1, 6, 5), (2, 3), 1)]
POOL_FD = {"activity_regularizer": hg.L2(0.1)}
POOL_TOL = {"y": (1e-12, 1e-14), "dx": (1e-12, 1e-14)}
# ---- normalizations: both modes, batches far from mean 0 and scale 1
NORM_FD = {"activity_regularizer": hg.L2(1e-2)}
BN_TOL = {"dx": (1e-10, 1e-12), "gamma": (1e-10, 1e-12)}
LN_TOL = {"dx": (1e-9, 1e-11), "gamma": (1e-10, 1e-12)}


def _norm(cls, id, *args, shape, prepare=random_constants, min_checked=20, tol=LN_TOL, **make_kwargs):
    return LayerCase(id, partial(cls, *args, **make_kwargs), shape, NORM_FD, modes=(True, False), data=shifted,
                     prepare=prepare, fd_tol=1e-6, min_checked=min_checked, torch_tol=tol)


INFOS = [
    LayerInfo(hg.Conv2D, tuple(
        _case(hg.Conv2D, f"conv2d {shape} {filters} filters kernel {kernel} stride {stride} padding {padding!r}",
              filters, kernel, shape=shape, fd_kwargs=CONV_FD, make_kwargs=dict(stride=stride, padding=padding))
        for shape, filters, kernel, stride, padding in CONV_CONFIGS),
        oracle.conv2d_twin,
        lambda d: hg.Conv2D(d(st.integers(1, 3)), d(st.integers(1, 3)), stride=d(st.integers(1, 2)),
                            padding=d(st.sampled_from(["same", "valid", 0, 1])),
                            activation=d(st.sampled_from([None, "elu", "relu", "tanh"])),
                            activity_regularizer=d(st.sampled_from([None, hg.L2(1e-3)]))),
        rank=3, notes="float32 (the default) against float64: tests/layers/test_conv2d.py; Winograd: "
                      "test_conv2d_winograd.py"),
    LayerInfo(hg.Dense, tuple(
        _case(hg.Dense, f"dense activation {activation}", 5, shape=(4, 7), fd_kwargs=DENSE_FD,
              make_kwargs=dict(activation=activation), torch_tol={"y": (1e-12, 1e-13), "dx": (1e-12, 1e-13),
                                                                   "W": (1e-12, 1e-13), "b": (1e-12, 1e-13)})
        for activation in DENSE_ACTIVATIONS),
        oracle.dense_twin,
        lambda d: hg.Dense(d(st.integers(1, 4)), activation=d(st.sampled_from([None, "elu", "sigmoid"])),
                           kernel_regularizer=d(st.sampled_from([None, hg.L1(1e-3)]))),
        rank=1),
    LayerInfo(hg.MaxPool2D, tuple(
        _case(hg.MaxPool2D, f"max_pool2d {shape} pool {pool} stride {stride}", pool, stride, shape=shape,
              fd_kwargs=POOL_FD, torch_tol=POOL_TOL) for shape, pool, stride in POOL_CONFIGS),
        oracle.max_pool_twin,
        lambda d: hg.MaxPool2D(d(st.integers(1, 3)), stride=d(st.sampled_from([None, 1, 2]))),
        rank=3, notes="ties: the first maximum gets the gradient (tests/layers/test_pooling.py)"),
    LayerInfo(hg.AvgPool2D, tuple(
        _case(hg.AvgPool2D, f"avg_pool2d {shape} pool {pool} stride {stride}", pool, stride, shape=shape,
              fd_kwargs=POOL_FD, torch_tol=POOL_TOL) for shape, pool, stride in POOL_CONFIGS),
        oracle.avg_pool_twin,
        lambda d: hg.AvgPool2D(d(st.integers(1, 3))),
        rank=3),
    LayerInfo(hg.ELU, (_activation(hg.ELU, "elu"), _activation(hg.ELU, "elu alpha 0.5", alpha=0.5),
                       _activation(hg.ELU, "elu alpha 2", alpha=2.0)),
              oracle.activation_twin, lambda d: hg.ELU(d(st.sampled_from([1.0, 0.3])))),
    LayerInfo(hg.ReLU, (_activation(hg.ReLU, "relu"),), oracle.activation_twin, lambda d: hg.ReLU()),
    LayerInfo(hg.LeakyReLU, (_activation(hg.LeakyReLU, "leaky_relu"),
                             _activation(hg.LeakyReLU, "leaky_relu 0.01", 0.01)),
              oracle.activation_twin, lambda d: hg.LeakyReLU()),
    LayerInfo(hg.Tanh, (_activation(hg.Tanh, "tanh"),), oracle.activation_twin, lambda d: hg.Tanh()),
    LayerInfo(hg.Sigmoid, (_activation(hg.Sigmoid, "sigmoid"),), oracle.activation_twin, lambda d: hg.Sigmoid()),
    LayerInfo(hg.Flatten, (_case(hg.Flatten, "flatten", shape=(2, 3, 4, 5), fd_kwargs=POOL_FD),),
              oracle.flatten_twin, lambda d: hg.Flatten()),
    LayerInfo(hg.Dropout, (_case(hg.Dropout, "dropout 0.5", 0.5, shape=(4, 10), fd_kwargs=POOL_FD,
                                 make_kwargs=dict(seed=3)),),
              None, lambda d: hg.Dropout(d(st.sampled_from([0.0, 0.5])), seed=0), state=("generator",),
              notes="training mode is random (a new mask at every forward): no finite differences or PyTorch "
                    "twin there; its mask and scaling: tests/layers/test_small_layers.py; inference is the "
                    "identity, checked here"),
    LayerInfo(hg.ActivityRegularization,
              (_case(hg.ActivityRegularization, "activity_regularization", shape=(4, 3, 2, 2),
                     make_kwargs=dict(l1=0.01, l2=0.02)),),
              oracle.identity_twin, lambda d: hg.ActivityRegularization(l1=1e-3, l2=1e-3),
              notes="its penalty is its activity regularizer, so the FD check adds none"),
    LayerInfo(hg.BatchNorm2D, (_norm(hg.BatchNorm2D, "batch_norm2d", shape=(6, 3, 5, 4),
                                     prepare=random_moving_statistics, min_checked=30, tol=BN_TOL),),
              oracle.batch_norm_twin, lambda d: hg.BatchNorm2D(momentum=d(st.sampled_from([0.99, 0.5]))),
              rank=3, state=("moving_mean", "moving_variance"),
              notes="several training steps then inference against F.batch_norm: tests/layers/test_batchnorm.py"),
    LayerInfo(hg.BatchNorm1D, (_norm(hg.BatchNorm1D, "batch_norm1d", shape=(7, 5),
                                     prepare=random_moving_statistics, min_checked=30, tol=BN_TOL),),
              oracle.batch_norm_twin, lambda d: hg.BatchNorm1D(momentum=d(st.sampled_from([0.99, 0.5]))),
              rank=1, state=("moving_mean", "moving_variance")),
    LayerInfo(hg.LayerNorm, (_norm(hg.LayerNorm, "layer_norm_flat", shape=(4, 7)),
                             _norm(hg.LayerNorm, "layer_norm_image", shape=(3, 2, 5, 4), epsilon=1e-3)),
              oracle.layer_norm_twin, lambda d: hg.LayerNorm()),
    LayerInfo(hg.GroupNorm, (_norm(hg.GroupNorm, "group_norm_2", 2, shape=(3, 6, 5, 4)),
                             _norm(hg.GroupNorm, "group_norm_1", 1, shape=(2, 4, 3, 5)),
                             _norm(hg.GroupNorm, "group_norm_instance", 4, shape=(2, 4, 3, 5)),
                             _norm(hg.GroupNorm, "group_norm_flat", 3, shape=(5, 12))),
              oracle.group_norm_twin, lambda d: hg.GroupNorm(d(st.sampled_from([1, 2])))),
]
LAYERS = {info.cls: info for info in INFOS}
CASES = [(info, case) for info in INFOS for case in info.cases]  # every case, with its class's info


def cases(cls) -> list[LayerCase]:
    return list(LAYERS[cls].cases)


def case(case_id: str) -> LayerCase:
    return next(c for _, c in CASES if c.id == case_id)
