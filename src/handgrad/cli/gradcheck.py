"""``handgrad gradcheck``: finite-difference check of the reference network, or the gradient doctor on a
user's own code (``--user-module FILE.py:FUNCTION`` or ``--user-model FILE.py:FACTORY``).

Every error this command can meet (bad flags, a user file that does not import, user code that raises or
returns the wrong types) is one line naming the flag or the user's file/function, exit code 1 (2 for flags
argparse rejects); ``--verbose`` adds the user's own traceback.
"""
from __future__ import annotations

import copy
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from handgrad._atomic import atomic_write_text
from handgrad.cli.args import add_dataclass_arguments, flag
from handgrad.config import TrainConfig
from handgrad.errors import RunFileError
from handgrad.user_code import call_user, location

MODEL_FIELDS = ("dataset", "weight_l2", "weight_l1", "activity_l2", "activity_l1", "activity_on", "batchnorm", "seed")
REFERENCE_ONLY = ("weight_l2", "weight_l1", "activity_l2", "activity_l1", "activity_on", "batchnorm")
INPUT_SHAPES = {"fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


class GradcheckError(Exception):
    """A one-line error of ``handgrad gradcheck`` (bad flag value, unusable user file)."""


def register(subparsers):
    p = subparsers.add_parser(
        "gradcheck", help="check gradients against finite differences",
        description="Without --user-module/--user-model: build the reference network from the same flags as "
                    "'handgrad train' and check every parameter's gradient for every loss term (data, weight "
                    "penalty, activity penalty, total) against central finite differences in float64 on a small "
                    "random batch, in training mode (batch statistics for BatchNorm; no "
                    "dropout). With --user-module FILE.py:FUNCTION (FUNCTION(params, x, y, **coefficients) "
                    "-> (loss, grads)) or --user-model FILE.py:FACTORY (FACTORY() -> an object with .params and "
                    ".loss(X, y) -> (loss, grads), CS231n's interface): the gradient doctor checks your own code, "
                    "with your own parameter names, term by term (--term), says how each failing gradient is "
                    "wrong (missing, scaled by k, sign, wrong) and probes for penalties summed over the batch. "
                    "Exit code 1 when any check or probe fails.")
    add_dataclass_arguments(p, TrainConfig, only=MODEL_FIELDS)
    p.add_argument("--user-module", metavar="FILE.py:FUNCTION", default=None,
                   help="your gradient code: FUNCTION(params, x, y, **coefficients) -> (loss, grads), params and "
                        "grads dicts with any names; the parameters come from init_params(seed) in FILE.py "
                        "(else the reference network's, named conv2d.W, ..., dense_1.b)")
    p.add_argument("--user-model", metavar="FILE.py:CLASS", default=None,
                   help="your model: a class or factory (path/to/pkg/module.py:Class or pkg.module:Class; a file in "
                        "a package is imported as part of it, so relative imports work) whose instance has .params "
                        "and .loss(X, y) -> (loss, grads); input_dim=, input_shape=, num_classes=, seed= are passed "
                        "when it takes them, more with --model-arg")
    p.add_argument("--model-arg", action="append", default=None, metavar="KEY=VALUE",
                   help="a constructor argument of --user-model, VALUE a Python literal (e.g. --model-arg "
                        "hidden_dims=[100,100] --model-arg weight_scale=1e-3); repeatable")
    p.add_argument("--randomize", nargs="+", default=None, metavar="NAME",
                   help="check again with these parameters replaced by random values (default: every parameter "
                        "whose entries are all equal: gamma = 1, beta = 0, zero biases)")
    p.add_argument("--no-randomize", action="store_true",
                   help="check only at your parameters' values (no second point)")
    p.add_argument("--user-layers", metavar="FILE.py", default=None,
                   help="your CS231n-style layers.py: each layer (affine, relu, conv, max_pool, batchnorm, "
                        "spatial_batchnorm, layernorm, spatial_groupnorm, dropout, softmax_loss, svm_loss and their "
                        "_naive/_fast/_alt variants) checked on inputs that break the classic bugs: the forward "
                        "against handgrad's layer, the backward against finite differences of your forward")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="with --user-layers: check only these layers (e.g. --only conv max_pool)")
    p.add_argument("--term", action="append", default=None, metavar="TERM=COEFFICIENT",
                   help="a penalty of your code and the keyword argument (--user-module) or attribute "
                        "(--user-model) that scales it, e.g. --term weight=reg --term activity=act_reg: each is "
                        "set to 0 to check the terms separately")
    p.add_argument("--input-shape", metavar="C,H,W", default=None,
                   help="shape of one input, e.g. 1,12,12, or D for flat inputs (default: what --user-model's "
                        "input_dim default says, else the dataset's, 1,28,28)")
    p.add_argument("--classes", type=int, default=10, help="number of classes K of the labels (default: 10)")
    p.add_argument("--batch", type=int, default=4, help="examples in the random batch (default: 4)")
    p.add_argument("--samples", type=int, default=10, help="random entries checked per parameter (default: 10)")
    p.add_argument("--tol", type=float, default=1e-6, help="maximum relative error, in (0, 1) (default: 1e-6)")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step, in (0, 1) (default: 1e-6)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the whole report as JSON to FILE")
    p.add_argument("--verbose", action="store_true",
                   help="show where in your code an error arose (file:line) and its traceback")
    p.set_defaults(run=run)


# ------------------------------------------------------------------------------------------ flags
def parse_input_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise GradcheckError(f"--input-shape must be C,H,W with three positive integers (e.g. 1,12,12), or D "
                             f"for flat inputs, got {text!r}")
    return shape


def parse_terms(items) -> dict[str, str]:
    terms = {}
    for item in items or ():
        term, sep, name = item.partition("=")
        term, name = term.strip(), name.strip()
        if not sep or not term.isidentifier() or not name.isidentifier():
            raise GradcheckError(f"--term must look like TERM=COEFFICIENT (e.g. activity=act_reg), got {item!r}")
        if term in ("data", "total"):
            raise GradcheckError(f"--term {item}: {term!r} is always checked; name a penalty (e.g. weight=reg)")
        if term in terms:
            raise GradcheckError(f"--term {term} given twice")
        terms[term] = name
    return terms


def validate(args) -> None:
    """Refuse flags that make no sense, or that do not apply to what is checked, naming the flag."""
    from handgrad.gradcheck.numerical import validate_options

    try:
        validate_options(args.eps, args.tol, args.samples, where="handgrad gradcheck",
                         names={"eps": "--eps", "tol": "--tol", "samples": "--samples"})
    except ValueError as e:
        raise GradcheckError(str(e).removeprefix("handgrad gradcheck: ")) from None
    if args.batch < 1:
        raise GradcheckError(f"--batch must be a positive integer, got {args.batch}")
    if args.classes < 2:
        raise GradcheckError(f"--classes must be at least 2, got {args.classes}")
    user = args.user_module or args.user_model
    if args.user_module and args.user_model:
        raise GradcheckError("--user-module and --user-model: give one (a function or a model factory)")
    if args.input_shape is not None and hasattr(args, "dataset"):
        raise GradcheckError("--dataset and --input-shape: give one (--dataset only sets the input shape here)")
    if user:
        option = "--user-module" if args.user_module else "--user-model"
        for name in REFERENCE_ONLY:
            if hasattr(args, name):
                raise GradcheckError(f"{flag(name)} does not apply to {option}: your code has its own penalties; "
                                     f"name their coefficients with --term (e.g. --term weight=reg)")
    elif args.term:
        raise GradcheckError("--term applies to --user-module or --user-model only (the reference network's "
                             "terms are always checked separately)")
    if args.model_arg and not args.user_model:
        raise GradcheckError("--model-arg applies to --user-model only (the arguments of your model's constructor)")
    if (args.randomize or args.no_randomize) and not user:
        raise GradcheckError("--randomize and --no-randomize apply to --user-module or --user-model only")
    if args.randomize and args.no_randomize:
        raise GradcheckError("--randomize and --no-randomize: give one")


# ------------------------------------------------------------------------------------------ user code
def load_user_code(spec: str, option: str):
    """``"path/to/file.py:name"`` or ``"pkg.module:name"`` -> (the object ``name``, the module); a file in a
    package is imported as part of it (``cli/user_objects.py``)."""
    from handgrad.cli.user_objects import UserObjectError, import_user_object

    kind = "function" if option == "--user-module" else "class or factory"
    try:
        return import_user_object(spec, option, kind)
    except UserObjectError as e:
        raise GradcheckError(str(e)) from e.__cause__


def call_with_supported(function, what: str, **keywords):
    """``function(**the keywords its signature accepts)``; an exception becomes a ``UserCodeError``."""
    from handgrad.gradcheck.targets import describe

    try:
        parameters = inspect.signature(function).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        given = {k: v for k, v in keywords.items() if takes_any or k in parameters}
    except (TypeError, ValueError):
        given = {}
    return call_user(function, what=f"{what} {describe(function)}", **given)


# ------------------------------------------------------------------------------------------ run
def run(args) -> int:
    try:
        return _run(args)
    except Exception as e:
        from handgrad.gradcheck.targets import UserCodeError

        if not isinstance(e, (GradcheckError, UserCodeError, ValueError, TypeError)):
            raise
        cause = e.__cause__ if args.verbose and "(at " not in str(e) else None
        where = location(cause) if cause is not None else None  # the user's file:line, as every guard names it
        print(f"handgrad gradcheck: error: {e}" + (f" (at {where})" if where else ""), file=sys.stderr)
        if args.verbose and e.__cause__ is not None:
            traceback.print_exception(e.__cause__, file=sys.stderr)
        elif e.__cause__ is not None:
            print("handgrad gradcheck: (--verbose shows the traceback)", file=sys.stderr)
        return 1


def _run(args) -> int:
    from handgrad.gradcheck import check_model, diagnose
    from handgrad.gradcheck.targets import describe

    if args.user_layers is not None or args.only is not None:
        from handgrad.cli.gradcheck_layers import run_user_layers
        return run_user_layers(args)
    validate(args)
    terms = parse_terms(args.term)
    given = {k: getattr(args, k) for k in MODEL_FIELDS if hasattr(args, k)}
    try:
        config = TrainConfig(**given, dropout=0.0)
    except (ValueError, TypeError) as e:
        from handgrad.cli.train import config_error
        print(f"handgrad gradcheck: error: {config_error(str(e))}", file=sys.stderr)
        return 2
    factory = module = None
    if args.user_module or args.user_model:
        factory, module = load_user_code(args.user_module or args.user_model,
                                         "--user-module" if args.user_module else "--user-model")
    from handgrad.cli.user_objects import UserObjectError, automatic_arguments, input_shape_default, parse_model_args

    try:
        model_args = parse_model_args(args.model_arg)
    except UserObjectError as e:
        raise GradcheckError(str(e)) from None
    if args.input_shape:
        input_shape = parse_input_shape(args.input_shape)
    elif args.user_model and isinstance(model_args.get("input_dim"), (int, tuple, list)):
        given = model_args["input_dim"]
        input_shape = (given,) if isinstance(given, int) else tuple(given)
    elif args.user_model and input_shape_default(factory) is not None:
        input_shape = input_shape_default(factory)
    else:
        input_shape = INPUT_SHAPES[config.dataset]
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((args.batch, *input_shape))
    y = rng.integers(0, args.classes, size=args.batch)
    options = dict(samples=args.samples, eps=args.eps, tol=args.tol, seed=config.seed)
    shape = "x".join(map(str, input_shape))
    start = time.perf_counter()
    if args.user_module or args.user_model:
        spec = args.user_module or args.user_model
        target = factory
        kwargs = dict(input_shape=input_shape, num_classes=args.classes, seed=config.seed)
        if args.user_model:
            params = None
            given = {**automatic_arguments(target, input_shape, args.classes, config.seed), **model_args}
            shown = ", ".join(f"{k}={v!r}" for k, v in given.items())
            target = call_user(target, what=f"--user-model: constructing {describe(target)}({shown})", **given)
        elif getattr(module, "init_params", None) is not None:
            params = call_with_supported(module.init_params, "--user-module: init_params", **kwargs)
            if not isinstance(params, dict):
                raise GradcheckError(f"--user-module: init_params must return a dict name -> array, got "
                                     f"{type(params).__name__}")
        else:
            params = config.build_model(input_shape, args.classes).astype(np.float64).get_weights()
        print(f"checking {spec} on a random batch of {args.batch} inputs {shape}, {args.classes} classes, "
              f"in float64" + (f", terms: {', '.join(f'{t}={c}' for t, c in terms.items())}" if terms else ""))
        randomize = False if args.no_randomize else (args.randomize or None)
        report = diagnose(target, x, y, terms or None, params=params, randomize=randomize, verbose=True, **options)
        batch_scaling = None
    else:
        model = config.build_model(input_shape, args.classes)
        print(copy.deepcopy(model).astype(np.float64).summary())  # the check runs on a float64 copy
        report = check_model(model, x, y, training=True, **options)  # the mode that trains; dropout is 0
        batch_scaling = []
    elapsed = time.perf_counter() - start
    if not report.passed:
        failed = report.all_failed_parameters() if hasattr(report, "all_failed_parameters") else \
            report.failed_parameters()
        probes = [b.term for b in getattr(report, "batch_scaling", []) if not b.passed]
        what = ", ".join(failed) + ("; " if failed and probes else "") + \
            (f"batch scaling of: {', '.join(probes)}" if probes else "")
        print(f"gradient check FAILED for: {what}")
    print(f"checked in {elapsed:.2f} s")
    if args.json:
        data = report.to_dict()
        if batch_scaling is not None:
            data["batch_scaling"] = batch_scaling
        data.update(input_shape=list(input_shape), classes=args.classes, seconds=round(elapsed, 3))
        write_json(Path(args.json), data)
    return 0 if report.passed else 1


def write_json(path: Path, data: dict) -> None:
    """Write atomically (``handgrad._atomic``): never a half-written report. The directory must exist: a typo
    in it is an error, not a new directory."""
    try:
        if not path.parent.is_dir():
            raise FileNotFoundError(2, "No such directory", str(path.parent))
        atomic_write_text(path, json.dumps(data, indent=2, default=float) + "\n")
    except OSError as e:
        raise GradcheckError(f"--json: cannot write {path}: {e.strerror or e}") from e
    except RunFileError as e:  # a link, a device, a FIFO or a directory: never replaced by a file
        raise GradcheckError(f"--json: {e}") from None

