"""Inverted dropout."""
from __future__ import annotations

import numpy as np

from handgrad._validation import check_int, check_number
from handgrad.kernels import backend
from handgrad.layers.base import Layer

_WORD = (1 << 64) - 1


def _pack(bit_generator_state: dict) -> np.ndarray:
    """PCG64's state as 6 uint64 words: ``state`` (hi, lo), ``inc`` (hi, lo), ``has_uint32``, ``uinteger``.

    A plain integer array, so that a checkpoint stores it without pickle and restores it bit for bit (the
    128-bit counters do not fit any NumPy integer type)."""
    s = bit_generator_state
    state, inc = s["state"]["state"], s["state"]["inc"]
    return np.array([state >> 64, state & _WORD, inc >> 64, inc & _WORD, s["has_uint32"], s["uinteger"]],
                    dtype=np.uint64)


def _unpack(words: np.ndarray) -> dict:
    w = [int(v) for v in words]
    return {"bit_generator": "PCG64", "state": {"state": w[0] << 64 | w[1], "inc": w[2] << 64 | w[3]},
            "has_uint32": w[4], "uinteger": w[5]}


class Dropout(Layer):
    """Training: ``y = x * mask / (1 - rate)`` with ``mask ~ Bernoulli(1 - rate)``; inference: ``y = x``.

    Scaling at training time (inverted dropout) keeps the expected activation unchanged, so inference needs
    no rescaling. ``dL/dx = dL/dy * mask / (1 - rate)``.

    Args:
        rate: fraction of units dropped, ``0 <= rate < 1``.
        seed: seed of the mask generator; default: drawn from the model's seed when built by ``Sequential``
            (0 for a standalone layer), so a model built with ``seed=`` draws the same masks bit for bit.

    State: ``generator``, the mask generator's PCG64 state as 6 uint64 words (see ``_pack``); each training
    forward pass draws from it and writes the advanced state back, so a checkpoint holds the masks to come.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number("Dropout", "rate", rate, minimum=0.0, maximum=1.0, strict_max=True)
        self.seed = None if seed is None else check_int("Dropout", "seed", seed, minimum=0)
        self._seed_generator(self.seed or 0)

    def _seed_generator(self, seed: int) -> None:
        self.state["generator"] = _pack(np.random.PCG64(seed).state)

    def _build(self, input_shape, rng):
        if self.seed is None:
            self._seed_generator(int(rng.integers(2**63)))
        return input_shape

    def _forward(self, x, training):
        if not training or self.rate == 0.0:
            self._scale = None
            return x
        bit_generator = np.random.PCG64(0)  # seeded: an unseeded PCG64 first draws entropy from the OS (~0.1 ms)
        bit_generator.state = _unpack(self.state["generator"])
        y, self._scale = backend.active().dropout_forward(x, self.rate, bit_generator)  # scale: mask / (1 - rate)
        self.state["generator"][...] = _pack(bit_generator.state)  # in place: the model hands out this array
        return y

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        return dy if self._scale is None else dy * self._scale

    # Export: ONNX's inference graph has the identity in its place; PyTorch gets ``nn.Dropout(p=rate)`` (the
    # identity in eval mode; its masks in training mode come from PyTorch's generator, not from ``generator``).
    TORCH_MODULE = "Dropout"

    def _onnx(self, graph, x):
        return graph.node("Identity", [x], self.name)

    def _torch(self, torch):
        return [torch.nn.Dropout(p=self.rate)]

    @classmethod
    def _from_torch(cls, module):
        return cls(float(module.p)), {}, {}
