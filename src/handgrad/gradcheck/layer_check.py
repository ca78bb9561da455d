"""Check one layer's input and parameter gradients against finite differences."""
from __future__ import annotations

import copy

import numpy as np

from handgrad.gradcheck.numerical import validate_options
from handgrad.gradcheck.report import GradcheckReport
from handgrad.gradcheck.tabulate import sampled_checks
from handgrad.layers.base import Layer


def check_layer(layer: Layer, x, *, samples: int = 30, eps: float = 1e-6, tol: float = 1e-7, seed: int = 0,
                training: bool = False, verbose: bool = True) -> GradcheckReport:
    """Finite-difference check of ``layer`` on input ``x`` (float64 copy of the layer).

    The scalar checked is ``L = sum(G * y) + weight penalty + activity penalty R(y)/N`` with a fixed random
    ``G`` of the output's shape; its terms are reported separately as ``output`` (``sum(G * y)``),
    ``weight``, ``activity`` and ``total``, for the input ``"x"`` and every parameter. Pass/fail as in
    ``check_model``.
    """
    validate_options(eps, tol, samples, where="check_layer")
    layer = copy.deepcopy(layer)
    x = np.array(x, dtype=np.float64)
    if not layer.built:
        layer.build(x.shape[1:], dtype=np.float64)
    layer.astype(np.float64)
    rng = np.random.default_rng(seed)
    y = layer.forward(x, training)
    G = rng.standard_normal(y.shape)
    has_activity = layer.activity_regularizer is not None

    def terms_of(y):
        activity = layer.activity_penalty(y) if has_activity else 0.0
        out = float(np.sum(G * y))
        weight = layer.weight_penalty()
        return [out, weight, activity, out + weight + activity]

    def analytic_for(upstream, weight):
        y = layer.forward(x, training)
        dx = layer.backward(upstream(y))
        if weight:
            layer.add_weight_penalty_grads()
        return {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}

    def zero(y):
        return np.zeros_like(y)
    analytic = {
        "output": analytic_for(lambda y: G, weight=False),
        "weight": analytic_for(zero, weight=True),
        "activity": analytic_for(lambda y: layer.activity_grad(y) if has_activity else zero(y), weight=False),
    }
    analytic["total"] = {k: sum(analytic[t][k] for t in ("output", "weight", "activity")) for k in analytic["output"]}

    def evaluate():
        return terms_of(layer.forward(x, training))[:3]

    base_values = terms_of(layer.forward(x, training))

    checks = sampled_checks({"x": x, **layer.params}, analytic, ("output", "weight", "activity", "total"), evaluate,
                            base_values, samples=samples, eps=eps, tol=tol, rng=rng, total=True)
    report = GradcheckReport(checks, tol, title=f"check_layer({layer.name})")
    if verbose:
        print(report)
    return report
