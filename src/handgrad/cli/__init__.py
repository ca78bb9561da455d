"""The ``handgrad`` command: ``train``, ``evaluate``, ``gradcheck``, ``plot``, ``compare``, ``tune``.

Errors a user can fix (bad flags, missing data, a diverged run) print one line, or one short paragraph,
and exit non-zero; no traceback.
"""
from __future__ import annotations

import sys

from handgrad.cli import evaluate, gradcheck, plot, train, tune
from handgrad.cli.args import Parser

COMMANDS = [train, evaluate, gradcheck, plot, tune]


def build_parser() -> Parser:
    parser = Parser(prog="handgrad", description="CNNs in NumPy with hand-written, proven-right gradients.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    from handgrad.datasets import DatasetError
    from handgrad.training import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TrainingDiverged as e:
        print(f"handgrad {args.command}: {e}", file=sys.stderr)
        return 1
    except (DatasetError, FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"handgrad {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = " (continue a training run with 'handgrad train --resume RUN_DIR')" if args.command == "train" else ""
        print(f"\nhandgrad {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
