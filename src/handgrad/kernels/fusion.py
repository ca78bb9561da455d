"""Fusion plans: which consecutive layers a kernel set runs as one step.

A kernel set offers ``fusion_plan(layers)``; the NumPy set fuses nothing, the numba set applies its rules
(``handgrad.kernels.numba.fusion``) through ``plan`` below. ``Sequential`` runs the plan it is given, and the
layers never know about it.

A step has the layer interface ``forward(x, training)`` / ``backward(dy, input_grad)``; ``Sequential`` adds
activity gradients at the output of a step's last layer and the weight penalties of all its layers, as for
single layers. A rule matches layers whose *own class* declares the operation it fuses (``FUSABLE_AS``, read
from the class's own namespace: a subclass, e.g. one a test writes to inject a fault, does not inherit the
claim and runs alone with its own methods), and only where the fused result cannot differ from the separate
layers. During a fused step the layers' own ``forward`` does not run: their ``backward`` alone has nothing (or
an older pass) to differentiate.
"""
from __future__ import annotations


def fusable_as(layer) -> str | None:
    """The operation ``layer``'s own class declares in ``FUSABLE_AS`` (``"conv2d"``, ``"elu"``, ``"max_pool"``),
    else None."""
    return vars(type(layer)).get("FUSABLE_AS")


def plan(layers, rules) -> tuple[tuple[int, int, object], ...]:
    """``((lo, hi, step), ...)``: ``layers[lo:hi]`` run as ``step`` (the layer itself when ``hi == lo + 1``).

    ``rules``: classes with ``SIZE`` (how many consecutive layers they fuse), ``matches(*layers)`` and a
    constructor ``rule(*layers)``, tried in order at each position (put the longer ones first).
    """
    steps, i = [], 0
    while i < len(layers):
        rule = next((r for r in rules if i + r.SIZE <= len(layers) and r.matches(*layers[i : i + r.SIZE])), None)
        if rule is not None:
            steps.append((i, i + rule.SIZE, rule(*layers[i : i + rule.SIZE])))
            i += rule.SIZE
        else:
            steps.append((i, i + 1, layers[i]))
            i += 1
    return tuple(steps)
