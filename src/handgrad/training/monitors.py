"""Training monitors: is a penalty drowning the data loss, and are a layer's activations dying?

Per epoch, on a fixed monitoring batch (inference mode), for the output of every layer with a kernel ``W``
(Conv2D, Dense) and of every layer that carries an activity penalty:

- ``mean_abs``: mean ``|y|``;
- ``near_zero``: fraction of entries with ``|y| < dead_threshold``;
- ``histogram``: counts of ``y`` in fixed bins (for the plots of the first and last epoch).

From the training loss of the epoch: each layer's activity penalty and its share of the total loss
(``penalty / total``), and the weight penalty's share.

Warnings (each printed once per run and layer): a penalty above ``warn_share`` of the total loss, with a
coefficient that would bring it to ``target_share``; more than 95 % of a layer's activations near zero.

``PenaltyMonitor.epoch_report`` returns a ``MonitorReport``: ``layers`` (name -> ``LayerMonitor``) and the
weight and activity penalties' shares. In a history row (``row["monitor"]``) it is ``MonitorReport.to_dict()``:

    {"conv2d": {"mean_abs": ..., "near_zero": ..., "histogram": [...], "activity_penalty": ...,
                "penalty_share": ...},          # the last two only for a layer with an activity penalty
     "dense": {...}, ..., "weight_penalty_share": ..., "activity_penalty_share": ...}

and ``MonitorReport.from_dict`` reads it back (the layout of every history written so far).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

HIST_EDGES = np.linspace(-3.0, 3.0, 61)  # 0.1-wide bins; values outside are counted in the end bins
DEAD_FRACTION = 0.95


def monitored_layers(model) -> list:
    return [layer for layer in model.layers if layer.has_kernel() or layer.activity_regularizer is not None]


@dataclass
class LayerMonitor:
    """One layer's statistics for an epoch: its activations on the monitoring batch, and for a layer with an
    activity penalty, the penalty's epoch mean and its share of the total loss (else None)."""

    mean_abs: float | None = None  # None only when read from a history row that lacks it
    near_zero: float | None = None
    histogram: list = field(default_factory=list)  # counts of y in the bins of HIST_EDGES
    activity_penalty: float | None = None
    penalty_share: float | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


SHARES = ("weight_penalty_share", "activity_penalty_share")  # the report's entries that are not layers


@dataclass
class MonitorReport:
    """An epoch's monitors: ``layers`` in network order, and the weight and activity penalties' shares of the
    total training loss (None only when read from a history row that lacks them)."""

    layers: dict[str, LayerMonitor]
    weight_penalty_share: float | None = None
    activity_penalty_share: float | None = None

    def to_dict(self) -> dict:
        """The history row's ``"monitor"`` value (see the module docstring)."""
        out = {name: layer.to_dict() for name, layer in self.layers.items()}
        out.update({k: getattr(self, k) for k in SHARES})
        return out

    @classmethod
    def from_dict(cls, row: dict) -> MonitorReport:
        """A history row's ``"monitor"`` value read back (as checked by ``training.runfiles``)."""
        names = {f.name for f in dataclasses.fields(LayerMonitor)}
        layers = {name: LayerMonitor(**{k: v for k, v in entry.items() if k in names})
                  for name, entry in row.items() if isinstance(entry, dict)}
        return cls(layers, **{k: row.get(k) for k in SHARES})


def activation_stats(model, x, dead_threshold: float) -> dict[str, LayerMonitor]:
    """``layer name -> LayerMonitor`` (activations only) of one inference pass over ``x``."""
    stats = {}
    for name, h in model.activations(x, names={layer.name for layer in monitored_layers(model)}).items():
        a = np.abs(h)
        counts, _ = np.histogram(np.clip(h, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES)
        stats[name] = LayerMonitor(float(a.mean()), float((a < dead_threshold).mean()), counts.tolist())
    return stats


def suggest_coefficient(coefficient: float, penalty: float, total: float, target_share: float = 0.1) -> float:
    """The coefficient that would make this penalty ``target_share`` of the total loss, all else equal.

    The penalty is linear in its coefficient: ``P' = c' / c * P``; solving ``P' / (total - P + P') = target``
    gives ``P' = target * (total - P) / (1 - target)``. Rounded to one significant digit.
    """
    wanted = target_share * (total - penalty) / (1 - target_share)
    c = coefficient * wanted / penalty
    return float(f"{c:.0e}")


class PenaltyMonitor:
    """Collects per-epoch statistics and prints each warning once."""

    def __init__(self, model, x_monitor, warn_share: float = 0.5, dead_threshold: float = 1e-2, echo=print):
        self.model = model
        self.x_monitor = x_monitor
        self.warn_share = warn_share
        self.dead_threshold = dead_threshold
        self.echo = echo
        self.warned: set = set()

    def epoch_report(self, train_terms: dict, layer_penalties: dict) -> MonitorReport:
        """Statistics for the history (``.to_dict()``); prints warnings. ``layer_penalties``: ``name ->
        (weight, activity)`` epoch means; ``train_terms``: epoch means of ``total``, ``data``, ``weight``,
        ``activity``."""
        total = train_terms["total"]

        def share(p):
            return float(p / total) if total > 0 else 0.0
        layers = activation_stats(self.model, self.x_monitor, self.dead_threshold)
        for name, (_, activity) in layer_penalties.items():
            layer = self.model.layer(name)
            if layer.activity_regularizer is None:
                continue
            entry = layers[name]  # a layer with an activity penalty is monitored
            entry.activity_penalty, entry.penalty_share = activity, share(activity)
            if entry.penalty_share > self.warn_share:
                self._warn_penalty(name, "activity", layer.activity_regularizer, activity, total)
        report = MonitorReport(layers, share(train_terms["weight"]), share(train_terms["activity"]))
        if report.weight_penalty_share > self.warn_share and ("*", "weight") not in self.warned:
            self.warned.add(("*", "weight"))
            self.echo(f"warning: the weight penalty is {report.weight_penalty_share:.0%} of the total loss "
                      f"(more than {self.warn_share:.0%}); common late in training as the data loss falls, but "
                      "if validation accuracy stalls, lower the kernel regularizers' coefficients")
        for name, entry in layers.items():
            if entry.near_zero is not None and entry.near_zero > DEAD_FRACTION and (name, "dead") not in self.warned:
                self.warned.add((name, "dead"))
                self.echo(f"warning: {entry.near_zero:.0%} of {name}'s activations are near zero "
                          f"(|y| < {self.dead_threshold:g}): the layer has gone dead; if it carries a penalty, "
                          "lower its coefficient")
        return report

    def _warn_penalty(self, name, kind, regularizer, penalty, total):
        if (name, kind) in self.warned:
            return
        self.warned.add((name, kind))
        coefficients = {k: v for k, v in regularizer.get_config().items() if v}
        suggestion = ", ".join(f"{k}={suggest_coefficient(v, penalty, total):g}" for k, v in coefficients.items())
        self.echo(f"warning: {name}'s {kind} penalty is {penalty / total:.0%} of the total loss (more than "
                  f"{self.warn_share:.0%}): it drowns the data loss. {type(regularizer).__name__}({suggestion}) "
                  f"instead of {regularizer!r} would bring it to about 10%")
