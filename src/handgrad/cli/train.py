"""``handgrad train``: train the reference network; flags map one to one onto ``TrainConfig``."""
from __future__ import annotations

import re
import sys

from handgrad.cli.args import add_dataclass_arguments, flag
from handgrad.config import TrainConfig


def register(subparsers):
    p = subparsers.add_parser(
        "train", help="train the reference network (or your own: --model FILE.py:FUNCTION)",
        description="Train the reference CNN (Conv32-ELU-Pool-Conv64-ELU-Pool-Dense256-ELU-Dense, --batchnorm adds "
                    "BatchNorm before each ELU), or the network FUNCTION(input_shape, num_classes) of --model "
                    "FILE.py:FUNCTION returns, with a progress bar, history, per-epoch checkpoints and a final test "
                    "evaluation. Results go to <out-dir>/<name>/. Every flag is a field of "
                    "handgrad.config.TrainConfig.")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR from its last checkpoint (only --epochs, --early-stopping, "
                        "--data-dir may change)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (summary lines only)")
    add_dataclass_arguments(p, TrainConfig)
    p.set_defaults(run=run)


def config_error(message: str) -> str:
    """``TrainConfig: lr must be > 0.0, got -1.0`` -> ``--lr must be > 0.0, got -1.0``."""
    return re.sub(r"^TrainConfig: (\w+)", lambda m: flag(m.group(1)), message)


def run(args) -> int:
    from handgrad.errors import RunFileError
    from handgrad.training.run import resume_config, train

    given = {k: v for k, v in vars(args).items() if k not in ("run", "resume", "no_progress", "command")}
    try:
        config = resume_config(args.resume, given) if args.resume else TrainConfig(**given)
    except RunFileError:
        raise  # a damaged or edited config.json is not a bad flag: exit 1, naming the file
    except (ValueError, TypeError) as e:
        print(f"handgrad train: error: {config_error(str(e))}", file=sys.stderr)
        return 2
    train(config, resume=bool(args.resume), run_dir=args.resume, progress=not args.no_progress)
    return 0
