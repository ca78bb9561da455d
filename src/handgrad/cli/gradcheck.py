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
from handgrad.user_code import call_user, import_file

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
    p.add_argument("--user-model", metavar="FILE.py:FACTORY", default=None,
                   help="your model: FACTORY() returns an object with .params and .loss(X, y) -> (loss, grads); "
                        "FACTORY may take input_shape=, num_classes=, seed= keywords")
    p.add_argument("--term", action="append", default=None, metavar="TERM=COEFFICIENT",
                   help="a penalty of your code and the keyword argument (--user-module) or attribute "
                        "(--user-model) that scales it, e.g. --term weight=reg --term activity=act_reg: each is "
                        "set to 0 to check the terms separately")
    p.add_argument("--input-shape", metavar="C,H,W", default=None,
                   help="shape of one input, e.g. 1,12,12 (default: the dataset's, 1,28,28)")
    p.add_argument("--classes", type=int, default=10, help="number of classes K of the labels (default: 10)")
    p.add_argument("--batch", type=int, default=4, help="examples in the random batch (default: 4)")
    p.add_argument("--samples", type=int, default=10, help="random entries checked per parameter (default: 10)")
    p.add_argument("--tol", type=float, default=1e-6, help="maximum relative error, in (0, 1) (default: 1e-6)")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step, in (0, 1) (default: 1e-6)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the whole report as JSON to FILE")
    p.add_argument("--verbose", action="store_true", help="show the traceback of an error in your code")
    p.set_defaults(run=run)


# ------------------------------------------------------------------------------------------ flags
def parse_input_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise GradcheckError(f"--input-shape must be C,H,W with three positive integers (e.g. 1,12,12), "
                             f"got {text!r}")
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


# ------------------------------------------------------------------------------------------ user code
def load_user_code(spec: str, option: str):
    """``"path/to/file.py:name"`` -> (the object ``name``, the module). The file's directory is put on
    ``sys.path`` first, so that the file can import its neighbours."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        what = "function" if option == "--user-module" else "factory"
        raise GradcheckError(f"{option} must look like path/to/file.py:{what}, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise GradcheckError(f"{option}: {file} does not exist")
    directory = str(file.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = import_file(file, option)  # a syntax error, an exception or sys.exit: UserCodeError naming file:line
    obj = getattr(module, name, None)
    if not callable(obj):
        kind = "function" if option == "--user-module" else "factory"
        raise GradcheckError(f"{option}: {file} has no {kind} {name!r}")
    return obj, module


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
        print(f"handgrad gradcheck: error: {e}", file=sys.stderr)
        if args.verbose and e.__cause__ is not None:
            traceback.print_exception(e.__cause__, file=sys.stderr)
        elif e.__cause__ is not None:
            print("handgrad gradcheck: (--verbose shows the traceback)", file=sys.stderr)
        return 1


def _run(args) -> int:
    from handgrad.gradcheck import check_model, diagnose

    validate(args)
    terms = parse_terms(args.term)
    given = {k: getattr(args, k) for k in MODEL_FIELDS if hasattr(args, k)}
    try:
        config = TrainConfig(**given, dropout=0.0)
    except (ValueError, TypeError) as e:
        from handgrad.cli.train import config_error
        print(f"handgrad gradcheck: error: {config_error(str(e))}", file=sys.stderr)
        return 2
    input_shape = parse_input_shape(args.input_shape) if args.input_shape else INPUT_SHAPES[config.dataset]
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((args.batch, *input_shape))
    y = rng.integers(0, args.classes, size=args.batch)
    options = dict(samples=args.samples, eps=args.eps, tol=args.tol, seed=config.seed)
    shape = "x".join(map(str, input_shape))
    start = time.perf_counter()
    if args.user_module or args.user_model:
        option = "--user-module" if args.user_module else "--user-model"
        spec = args.user_module or args.user_model
        target, module = load_user_code(spec, option)
        kwargs = dict(input_shape=input_shape, num_classes=args.classes, seed=config.seed)
        if args.user_model:
            params = None
            target = call_with_supported(target, "--user-model: the factory", **kwargs)
        elif getattr(module, "init_params", None) is not None:
            params = call_with_supported(module.init_params, "--user-module: init_params", **kwargs)
            if not isinstance(params, dict):
                raise GradcheckError(f"--user-module: init_params must return a dict name -> array, got "
                                     f"{type(params).__name__}")
        else:
            params = config.build_model(input_shape, args.classes).astype(np.float64).get_weights()
        print(f"checking {spec} on a random batch of {args.batch} inputs {shape}, {args.classes} classes, "
              f"in float64" + (f", terms: {', '.join(f'{t}={c}' for t, c in terms.items())}" if terms else ""))
        report = diagnose(target, x, y, terms or None, params=params, verbose=True, **options)
        batch_scaling = None
    else:
        model = config.build_model(input_shape, args.classes)
        print(copy.deepcopy(model).astype(np.float64).summary())  # the check runs on a float64 copy
        report = check_model(model, x, y, training=True, **options)  # the mode that trains; dropout is 0
        batch_scaling = []
    elapsed = time.perf_counter() - start
    if not report.passed:
        failed = report.failed_parameters()
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

