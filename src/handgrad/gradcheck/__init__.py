"""Numerical gradient checks: of handgrad models and layers, and of users' own hand-written gradients.

- ``check_model(model, x, y)``: every parameter, each loss term (data, weight, activity) and the total.
- ``check_layer(layer, x)``: one layer's input and parameter gradients.
- ``compare(loss_fn, params, grads)``: a user's ``grads`` against finite differences of their ``loss_fn``.

All run in float64 with central differences and return a ``GradcheckReport`` that prints as a table and
names the failing parameters and their worst entries.
"""
from handgrad.gradcheck.compare import compare
from handgrad.gradcheck.layer_check import check_layer
from handgrad.gradcheck.model_check import check_model
from handgrad.gradcheck.report import Check, Entry, GradcheckReport

__all__ = ["Check", "Entry", "GradcheckReport", "check_layer", "check_model", "compare"]
