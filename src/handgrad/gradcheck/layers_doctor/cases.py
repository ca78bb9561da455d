"""The battery of inputs per kind of layer, each chosen to break a classic bug.

- distinct sizes everywhere (``N != C != H != W``, ``H != W``, ``HH != WW``, ``N != D``): an axis mix-up
  gives a wrong shape or wrong values instead of passing by symmetry;
- conv: stride 1 without padding, then padding 1, stride 2, and both (a bug of the padding or stride shows
  as failures in those cases only);
- max pool: non-overlapping 2x2 windows at stride 2 (the course's check) and overlapping ones (3x3 at
  stride 2, 2x3 at stride 1), where an assignment ``=`` instead of ``+=`` loses gradient;
- batch/layer/group norm: gamma 1 and beta 0 (the course's check), then random gamma and beta (a missing
  gamma shows), inputs of mean ~2 and scale ~1.5, running statistics unlike the batch's;
- no kinks within reach of the finite differences: ReLU inputs at least 0.05 from 0, pooled values distinct
  and 0.05 apart, hinge margins at least 0.05 from 0 (the numerical derivative then is the derivative).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BN = {"eps": 1e-5, "momentum": 0.9}  # CS231n's defaults, given explicitly so the oracle uses the same


@dataclass
class Case:
    """One input: the differentiated ``arrays`` (in call order), the ``extra`` arguments after them
    (deep-copied at every call), and ``tags`` the diagnoses read (``padded``, ``strided``, ``overlap``,
    ``gamma_one``, ``multi_dim``, ``test_mode``)."""

    name: str
    arrays: dict[str, np.ndarray]
    extra: tuple = ()
    tags: frozenset = field(default_factory=frozenset)
    backward: bool = True  # False: forward only (test mode of batchnorm: CS231n has no backward for it)


def away_from_zero(rng, shape, gap=0.05):
    x = rng.standard_normal(shape)
    return np.sign(x) * (gap + np.abs(x))


def distinct(rng, shape, spacing=0.05):
    """Values ``spacing`` apart in random order: no ties, no near-ties within a window."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * spacing).reshape(shape)


def normal(rng, shape, mean=2.0, scale=1.5):
    return mean + scale * rng.standard_normal(shape)


def affine(rng):
    return [Case("x (N, D) = (3, 7)", {"x": normal(rng, (3, 7)), "w": rng.standard_normal((7, 5)),
                                        "b": rng.standard_normal(5)}),
            Case("x (N, d1, d2) = (4, 2, 3)", {"x": normal(rng, (4, 2, 3)), "w": rng.standard_normal((6, 5)),
                                                "b": rng.standard_normal(5)}, tags=frozenset({"multi_dim"}))]


def relu(rng):
    return [Case("x (3, 4, 5), no value within 0.05 of 0", {"x": away_from_zero(rng, (3, 4, 5))})]


def conv(rng):
    cases = []
    for stride, pad in ((1, 0), (1, 1), (2, 0), (2, 1)):
        tags = frozenset({"padded"} if pad else set()) | frozenset({"strided"} if stride > 1 else set())
        arrays = {"x": rng.standard_normal((2, 3, 5, 4)), "w": rng.standard_normal((6, 3, 3, 2)),
                  "b": rng.standard_normal(6)}  # small: a naive forward runs ~500 times per case
        cases.append(Case(f"x (2, 3, 5, 4), w (6, 3, 3, 2), stride {stride}, pad {pad}", arrays,
                          ({"stride": stride, "pad": pad},), tags))
    return cases


def max_pool(rng):
    cases = []
    for (ph, pw, stride), shape in (((2, 2, 2), (2, 3, 4, 6)), ((3, 3, 2), (2, 3, 5, 7)), ((2, 3, 1), (3, 2, 4, 5))):
        overlap = stride < max(ph, pw)
        name = f"x {shape}, {ph}x{pw} windows, stride {stride} ({'overlapping' if overlap else 'not overlapping'})"
        cases.append(Case(name, {"x": distinct(rng, shape)}, ({"pool_height": ph, "pool_width": pw,
                                                              "stride": stride},),
                          frozenset({"overlap"} if overlap else set())))
    return cases


def _norm_cases(rng, shape, param_shape, extra_of, train_modes=True):
    cases = []
    C = param_shape[1] if len(param_shape) == 4 else param_shape[0]
    for gamma_one in (True, False):
        gamma = np.ones(param_shape) if gamma_one else rng.uniform(0.5, 2.0, param_shape)
        beta = np.zeros(param_shape) if gamma_one else rng.standard_normal(param_shape)
        arrays = {"x": normal(rng, shape), "gamma": gamma, "beta": beta}
        what = "gamma 1, beta 0" if gamma_one else "random gamma and beta"
        cases.append(Case(f"x {shape}, {what}", arrays, extra_of("train", rng, C),
                          frozenset({"gamma_one"} if gamma_one else set())))
    if train_modes:
        arrays = {"x": normal(rng, shape), "gamma": rng.uniform(0.5, 2.0, param_shape),
                  "beta": rng.standard_normal(param_shape)}
        cases.append(Case(f"x {shape}, test mode (running statistics)", arrays, extra_of("test", rng, C),
                          frozenset({"test_mode"}), backward=False))
    return cases


def _bn_param(mode, rng, C):
    """Running statistics far from the batch's (mean ~2, variance ~2.25), so that mixing them up shows."""
    return ({"mode": mode, **BN, "running_mean": rng.standard_normal(C),
             "running_var": rng.uniform(0.5, 3.0, C)},)


def batchnorm(rng):
    return _norm_cases(rng, (6, 4), (4,), _bn_param)


def spatial_batchnorm(rng):
    return _norm_cases(rng, (2, 3, 4, 5), (3,), _bn_param)


def layernorm(rng):
    return _norm_cases(rng, (4, 6), (6,), lambda mode, rng, C: ({"eps": 1e-5},), train_modes=False)


def spatial_groupnorm(rng):
    cases = _norm_cases(rng, (2, 6, 3, 4), (1, 6, 1, 1), lambda mode, rng, C: (2, {"eps": 1e-5}),
                        train_modes=False)
    cases[1].extra = (3, {"eps": 1e-5})
    cases[1].name += ", G = 3"
    cases[0].name += ", G = 2"
    return cases


def dropout(rng):
    """Three cases read by the dropout checks: keep rate and scaling on a large input (p = 0.3, so that
    ``p`` and ``1 - p`` tell the two conventions apart), test mode, and the backward on a small input."""
    big = rng.uniform(1.0, 2.0, (400, 500))  # no zeros: a zero output is a dropped unit
    return [Case("x (400, 500), p = 0.3, train mode", {"x": big}, ({"p": 0.3, "mode": "train", "seed": 123},),
                 frozenset({"statistics"}), backward=False),
            Case("x (400, 500), p = 0.3, test mode", {"x": big}, ({"p": 0.3, "mode": "test", "seed": 123},),
                 frozenset({"test_mode"}), backward=False),
            Case("x (4, 6), p = 0.6, train mode", {"x": rng.uniform(1.0, 2.0, (4, 6))},
                 ({"p": 0.6, "mode": "train", "seed": 7},))]


def _labels_away_from_kinks(rng, N, K):
    while True:
        x, y = rng.standard_normal((N, K)), rng.integers(0, K, N)
        m = x - x[np.arange(N), y][:, None] + 1
        m[np.arange(N), y] = 1
        if np.abs(m).min() > 0.05 and (m < 0).any() and (m > 0).sum() > N:
            return x, y


def softmax_loss(rng):
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    big = 800 + 3 * rng.standard_normal((5, 4))
    return [Case("x (5, 4)", {"x": x}, (y,)),
            Case("x (5, 4) around 800 (exp overflows without the max shift)", {"x": big}, (y,),
                 frozenset({"large"}), backward=False)]  # forward only: differences at 800 lose 3 digits


def svm_loss(rng):
    x, y = _labels_away_from_kinks(rng, 5, 4)
    return [Case("x (5, 4), margins at least 0.05 from 0", {"x": x}, (y,))]


BATTERY = {"affine": affine, "relu": relu, "conv": conv, "max_pool": max_pool, "batchnorm": batchnorm,
           "spatial_batchnorm": spatial_batchnorm, "layernorm": layernorm, "spatial_groupnorm": spatial_groupnorm,
           "dropout": dropout, "softmax_loss": softmax_loss, "svm_loss": svm_loss}


def cases_for(kind: str, seed: int) -> list[Case]:
    return BATTERY[kind](np.random.default_rng(seed))
