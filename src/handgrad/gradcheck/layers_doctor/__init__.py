"""The layers doctor: a user's CS231n-style layer functions checked one by one, on inputs chosen to break the
classic bugs, each failure named and diagnosed.

- ``discovery``: the functions found by CS231n's names (``conventions``: what each takes and returns);
- ``cases``: the battery of inputs per kind of layer;
- ``oracles``: what each layer must compute, from handgrad's proven layers;
- ``differences``: numerical gradients of the user's own forward;
- ``diagnoses``: which bug a wrong output is;
- ``check``: ``check_layers``, the driver; ``report``: ``LayersReport``, its text and JSON forms;
- ``guard``: the user's code called safely (exceptions as one line with file:line).
"""
from handgrad.gradcheck.layers_doctor.check import check_layers
from handgrad.gradcheck.layers_doctor.report import Failure, LayerResult, LayersReport

__all__ = ["Failure", "LayerResult", "LayersReport", "check_layers"]
