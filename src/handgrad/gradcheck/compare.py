"""Check gradients written by a user against finite differences of the user's own loss."""
from __future__ import annotations

from typing import Callable

import numpy as np

from handgrad.errors import ArgumentTypeError, KeyMismatchError, ShapeError
from handgrad.gradcheck.numerical import validate_options
from handgrad.gradcheck.report import GradcheckReport
from handgrad.gradcheck.tabulate import sampled_checks


def compare(loss_fn: Callable[[dict], float], params: dict, grads: dict, *, samples: int = 20, eps: float = 1e-6,
            tol: float = 1e-6, seed: int = 0, term: str = "loss", verbose: bool = True) -> GradcheckReport:
    """Compare hand-written ``grads`` with central differences of ``loss_fn``.

    Args:
        loss_fn: ``loss_fn(params) -> float``; it is called with float64 copies of ``params`` (compute in
            the dtype you are given: finite differences in float32 are too noisy to check anything).
        params: ``name -> array`` at which the gradients were computed.
        grads: ``name -> array``, the user's gradients of ``loss_fn`` at ``params`` (same keys and shapes).
        samples, eps, tol, seed, verbose: as in ``check_model`` (an entry passes when its relative error is
            at most ``tol`` or its absolute error is below the noise floor). term: the column's label.

    Returns: a ``GradcheckReport``; ``report.failed_parameters()`` names the parameters that disagree.
    """
    validate_options(eps, tol, samples, where="compare")
    missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
    if missing or extra:
        raise KeyMismatchError(f"compare: grads must have the keys of params; missing {missing}, unexpected {extra}")
    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    for k, g in grads.items():
        if np.shape(g) != work[k].shape:
            raise ShapeError(f"compare: grads[{k!r}] has shape {np.shape(g)}, params[{k!r}] has {work[k].shape}")

    def evaluate():
        value = loss_fn(work)
        if not np.isscalar(value) and np.ndim(value) != 0:
            raise ArgumentTypeError(f"compare: loss_fn must return a float, "
                            f"got {type(value).__name__} of shape {np.shape(value)}")
        return float(value)

    analytic = {term: {k: np.asarray(g, dtype=np.float64) for k, g in grads.items()}}
    checks = sampled_checks(work, analytic, (term,), evaluate, [evaluate()], samples=samples, eps=eps, tol=tol,
                            rng=np.random.default_rng(seed), total=False)
    report = GradcheckReport(checks, tol, title="compare")
    if verbose:
        print(report)
    return report
