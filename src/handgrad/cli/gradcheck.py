"""``handgrad gradcheck``: finite-difference check of the reference network, or of a user's own gradients."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from handgrad.cli.args import add_dataclass_arguments
from handgrad.config import TrainConfig

MODEL_FIELDS = ("dataset", "weight_l2", "weight_l1", "activity_l2", "activity_l1", "activity_on", "batchnorm", "seed")
INPUT_SHAPES = {"fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def register(subparsers):
    p = subparsers.add_parser(
        "gradcheck", help="check gradients against finite differences",
        description="Build the reference network from the same flags as 'handgrad train' and check every "
                    "parameter's gradient for every loss term (data, weight penalty, activity penalty, total) "
                    "against central finite differences in float64 on a small random batch, in training mode "
                    "(batch statistics for BatchNorm; no dropout). With --user-module, "
                    "check your own loss_and_grads(params, x, y) -> (loss, grads) against finite differences of "
                    "your own loss instead. Exit code 1 when any check fails.")
    add_dataclass_arguments(p, TrainConfig, only=MODEL_FIELDS)
    p.add_argument("--user-module", metavar="PATH.py:FUNCTION", default=None,
                   help="your gradient code: FUNCTION(params, x, y) -> (loss, grads), with params and grads dicts "
                        "named like handgrad's (conv2d.W, conv2d.b, ..., dense_1.b); if the module defines "
                        "init_params(seed) its parameters are used instead of the reference network's")
    p.add_argument("--batch", type=int, default=4, help="images in the random batch (default: 4)")
    p.add_argument("--samples", type=int, default=20, help="random entries checked per parameter (default: 20)")
    p.add_argument("--tol", type=float, default=1e-6, help="maximum relative error (default: 1e-6)")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default: 1e-6)")
    p.set_defaults(run=run)


def load_user_function(spec: str):
    """``"path/to/file.py:function"`` -> (the function, the module)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ValueError(f"--user-module must look like path/to/file.py:function, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--user-module: {file} does not exist")
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules.setdefault(file.stem, module)
    module_spec.loader.exec_module(module)
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"--user-module: {file} has no function {name!r}")
    return function, module


def run(args) -> int:
    from handgrad.gradcheck import check_model, compare

    given = {k: getattr(args, k) for k in MODEL_FIELDS if hasattr(args, k)}
    try:
        config = TrainConfig(**given, dropout=0.0)
    except (ValueError, TypeError) as e:
        from handgrad.cli.train import config_error
        print(f"handgrad gradcheck: error: {config_error(str(e))}", file=sys.stderr)
        return 2
    input_shape = INPUT_SHAPES[config.dataset]
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((args.batch, *input_shape))
    y = rng.integers(0, 10, size=args.batch)
    options = dict(samples=args.samples, eps=args.eps, tol=args.tol, seed=config.seed)
    if args.user_module:
        function, module = load_user_function(args.user_module)
        init = getattr(module, "init_params", None)
        if init is not None:
            params = {k: np.asarray(v, np.float64) for k, v in init(config.seed).items()}
        else:
            params = config.build_model(input_shape, 10).astype(np.float64).get_weights()
        _, grads = function(params, x, y)
        print(f"checking {args.user_module} on a random batch of {args.batch} images {input_shape}")
        report = compare(lambda p: function(p, x, y)[0], params, grads, **options)
    else:
        model = config.build_model(input_shape, 10)
        print(model.summary())
        report = check_model(model, x, y, training=True, **options)  # the mode that trains; dropout is 0
    if not report.passed:
        print(f"gradient check FAILED for: {', '.join(report.failed_parameters())}")
    return 0 if report.passed else 1
