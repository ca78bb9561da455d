"""Batch-scaling probe: is a loss term averaged over the batch, or summed?

Each term is evaluated on the batch ``(x, y)`` and on the same batch given twice
(``concat(x, x)``, ``concat(y, y)``). A mean data loss, a weight penalty and a Keras-style activity penalty
``R(y) / N`` are unchanged (ratio 1); a term summed over the batch doubles (ratio 2): its strength grows with
the batch size, which a gradient check cannot see when the loss and its gradient both sum it.

Verdicts: a ratio within round-off of 1 passes (``"ok"``); within round-off of 2 fails (``"summed"``); anything
else fails (``"fail"``: e.g. a total mixing a summed data loss with a penalty) unless the term also changes when
the examples are given in reverse order: then the doubled batch did not repeat the same computation, because
something is drawn per batch position (a dropout mask of the batch's shape, even with a fixed seed), and the
verdict is ``"inconclusive"``, not a failure, with the advice to turn dropout off for the check.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATIO_TOL = 1e-6  # the doubled batch repeats the same numbers: only round-off separates the ratio from 1 or 2


@dataclass(frozen=True)
class BatchScaling:
    """One term's value on the batch and on the batch given twice."""

    term: str
    value: float
    doubled: float
    ratio: float | None  # doubled / value (None when the term is 0 on the batch)
    summed_over_batch: bool
    passed: bool  # True for "ok" and "inconclusive"
    message: str
    verdict: str = "ok"  # "ok", "summed", "inconclusive", "fail" (a term that is 0 on one batch only)


def doubled_batch(x, y):
    """``(concat(x, x), concat(y, y))`` along the batch axis."""
    x, y = np.asarray(x), np.asarray(y)
    return np.concatenate([x, x]), np.concatenate([y, y])


def probe_term(term: str, value: float, doubled: float, batch: int,
               reversed_value: float | None = None) -> BatchScaling:
    """Classify one term from its value on the batch, on the batch given twice and (``reversed_value``) on the
    batch in reverse order: a ratio neither 1 nor 2 is inconclusive when the order of the examples matters."""
    order_dependent = reversed_value is not None and value != 0.0 and \
        abs(reversed_value / value - 1.0) > RATIO_TOL
    name = {"data": "the data loss", "total": "the total loss"}.get(term, f"the {term} penalty")
    if value == 0.0:
        if doubled == 0.0:
            return BatchScaling(term, value, doubled, None, False, True,
                                f"{name} is 0 on this batch: its batch scaling cannot be probed")
        return BatchScaling(term, value, doubled, None, False, False,
                            f"{name} is 0 on the batch but {doubled:.6g} on the batch given twice", "fail")
    ratio = doubled / value
    if abs(ratio - 1.0) <= RATIO_TOL:
        return BatchScaling(term, value, doubled, ratio, False, True,
                            f"{name} is unchanged when the batch is given twice: independent of the batch size")
    if abs(ratio - 2.0) <= 2 * RATIO_TOL:
        if term in ("data", "total"):
            fix = ("the learning rate and every penalty coefficient then mean different things at every batch "
                   "size; average the data loss (divide by N)")
        else:
            fix = (f"at batch {batch} this penalty is {batch} times stronger than its coefficient says, at batch "
                   f"64, 64 times; Keras divides by N: divide the penalty and its gradient by N")
        return BatchScaling(term, value, doubled, ratio, True, False,
                            f"{name} doubles when the batch is given twice: it is summed over the batch; {fix}",
                            "summed")
    if not order_dependent:
        return BatchScaling(term, value, doubled, ratio, False, False,
                            f"{name} changes by a factor {ratio:.6g} when the same examples are given twice: its "
                            f"strength depends on the batch size (a mean over the batch is unchanged, a sum doubles)",
                            "fail")
    return BatchScaling(term, value, doubled, ratio, False, True,
                        f"{name} changes by a factor {ratio:.6g} when the same examples are given twice, "
                        f"neither 1 (a mean over the batch) nor 2 (a sum), and it changes when the examples are given "
                        f"in reverse order: the loss depends on where an example sits in the batch, most likely a "
                        f"dropout mask drawn for the batch's shape (a fixed seed gives a batch of {2 * batch} other "
                        f"masks); the probe is inconclusive: turn dropout off for the check (e.g. dropout=1 or 0, "
                        f"whichever means none) to probe the batch scaling",
                        "inconclusive")
