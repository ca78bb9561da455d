"""``WeightEMA``: an exponential moving average of the trained parameters, for evaluation."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from handgrad._validation import check_number
from handgrad.errors import RunFileError


class WeightEMA:
    """``ema = decay * ema + (1 - decay) * p`` after every optimizer step; the first update copies ``p``.

    This is PyTorch's ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))`` with
    ``update_parameters`` after each step, for the parameters only: layer state (BatchNorm's moving statistics)
    stays the live model's, as there (``use_buffers=False``).

    Args:
        decay: in (0, 1); e.g. 0.999 averages over about the last 1,000 steps.

    ``averages``: ``"<layer>.<param>" -> array`` (empty before the first update), saved in the checkpoints.
    """

    def __init__(self, decay: float):
        self.decay = check_number("WeightEMA", "decay", decay, minimum=0.0, maximum=1.0, strict_min=True,
                                  strict_max=True)
        self.averages: dict[str, np.ndarray] = {}

    def update(self, params: dict) -> None:
        if not self.averages:
            self.averages = {k: p.copy() for k, p in params.items()}
            return
        for k, p in params.items():
            e = self.averages[k]
            np.multiply(e, e.dtype.type(self.decay), out=e)
            e += e.dtype.type(1.0 - self.decay) * p  # decay * ema + (1 - decay) * p, in that order

    @contextmanager
    def applied(self, params: dict):
        """Inside the block the live arrays ``params`` hold the averages; afterwards their own values again."""
        if not self.averages:
            yield
            return
        live = {k: p.copy() for k, p in params.items()}
        try:
            for k, p in params.items():
                p[...] = self.averages[k]
            yield
        finally:
            for k, p in params.items():
                p[...] = live[k]

    def load(self, averages: dict, params: dict, where: str) -> None:
        """Restore ``averages`` (from a checkpoint) for a model whose parameters are ``params``."""
        if set(averages) != set(params) or any(np.shape(averages[k]) != params[k].shape for k in params):
            raise RunFileError(f"{where}: its EMA weights (ema/) do not match the model's parameters: "
                                   f"{sorted(set(params) ^ set(averages)) or 'shapes differ'}")
        self.averages = {k: np.array(averages[k], dtype=params[k].dtype) for k in params}
