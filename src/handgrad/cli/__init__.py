"""The ``handgrad`` command: ``train``, ``evaluate``, ``gradcheck``, ``plot``, ``compare``, ``tune``, ``export``.

Errors a user can fix (bad flags, missing or unreadable data, a run directory in use or not writable, a damaged
or hand-edited run file, a diverged run, the user's own code raising or calling ``sys.exit``) print one line,
``handgrad COMMAND: error: ...``, and exit non-zero (2 for bad flags, 1 otherwise, 130 on Ctrl-C); no traceback.
An ``OSError`` is printed as ``FILE: reason``. Any other exception is a bug in handgrad: it too is printed as one
line naming its type, and the full traceback is printed when the environment variable ``HANDGRAD_TRACEBACK=1``
is set.
"""
from __future__ import annotations

import os
import re
import sys
import traceback

from handgrad.cli import evaluate, export, gradcheck, plot, train, tune
from handgrad.cli.args import Parser

COMMANDS = [train, evaluate, gradcheck, plot, tune, export]
TRACEBACK_ENV = "HANDGRAD_TRACEBACK"


def build_parser() -> Parser:
    parser = Parser(prog="handgrad", description="CNNs in NumPy with hand-written, proven-right gradients.",
                    epilog=f"Errors are one line; set {TRACEBACK_ENV}=1 to see the traceback of an unexpected one.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def os_error_message(e: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` -> ``x: permission denied``; the file(s) first, then the reason."""
    files = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    reason = e.strerror or str(e)
    return f"{files}: {reason}" if files else reason


def one_line(message) -> str:
    """The message with each line break (and the spaces around it) replaced by one space: an error is one line."""
    return re.sub(r"\s*\n\s*", " ", str(message)).strip()


def main(argv=None) -> int:
    from handgrad.datasets import DatasetError
    from handgrad.errors import UserCodeError
    from handgrad.training import RunDirError, TrainingDiverged

    args = build_parser().parse_args(argv)
    prefix = f"handgrad {args.command}"
    try:
        return args.run(args)
    except TrainingDiverged as e:
        print(f"{prefix}: {one_line(e)}", file=sys.stderr)
        return 1
    except (DatasetError, RunDirError, UserCodeError, ValueError) as e:
        print(f"{prefix}: error: {one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:  # permissions, a file where a directory should be, a full disk...
        print(f"{prefix}: error: {one_line(os_error_message(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = " (continue a training run with 'handgrad train --resume RUN_DIR')" if args.command == "train" else ""
        print(f"\n{prefix}: interrupted{hint}", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            traceback.print_exc()
        print(f"{prefix}: error: unexpected {type(e).__name__}: {one_line(e) or '(no message)'} (set "
              f"{TRACEBACK_ENV}=1 for the traceback)", file=sys.stderr)
        return 1

if __name__ == "__main__":
    sys.exit(main())
