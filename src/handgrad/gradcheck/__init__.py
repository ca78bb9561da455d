"""Numerical gradient checks: of handgrad models and layers, and of users' own hand-written gradients.

- ``check_model(model, x, y)``: every parameter, each loss term (data, weight, activity) and the total.
- ``check_layer(layer, x)``: one layer's input and parameter gradients.
- ``compare(loss_fn, params, grads)``: a user's ``grads`` against finite differences of their ``loss_fn``.
- ``diagnose(target, x, y, terms={"weight": "reg", "activity": "act_reg"})``: the gradient doctor: a user's
  function or CS231n-style model object, checked term by term, each failure diagnosed (missing, scaled by k,
  sign, wrong), and a probe for penalties summed over the batch.
- ``check_layers("layers.py")``: the layers doctor: a CS231n-style file's layer functions, each forward against
  handgrad's layer and each backward against finite differences of its forward, on inputs that break the
  classic bugs, each failure diagnosed (``LayersReport``).

All run in float64 with central differences and return a ``GradcheckReport`` that prints as a table and
names the failing parameters and their worst entries.
"""
from handgrad.gradcheck.compare import compare
from handgrad.gradcheck.doctor import DoctorReport, diagnose
from handgrad.gradcheck.layer_check import check_layer
from handgrad.gradcheck.layers_doctor import LayersReport, check_layers
from handgrad.gradcheck.model_check import check_model
from handgrad.gradcheck.report import Check, Entry, GradcheckReport
from handgrad.gradcheck.targets import UserCodeError

__all__ = ["Check", "DoctorReport", "Entry", "GradcheckReport", "LayersReport", "UserCodeError", "check_layer",
           "check_layers", "check_model", "compare", "diagnose"]
