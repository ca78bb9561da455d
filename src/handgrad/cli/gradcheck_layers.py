"""``handgrad gradcheck --user-layers FILE.py [--only NAME ...] [--json OUT]``: the layers doctor.

Prints the report (one line per layer, then each failure with its case, output, diagnosis and what to fix);
exit code 0 when every layer passes, 1 when any fails (or the file does not import).
"""
from __future__ import annotations

import time
from pathlib import Path

from handgrad.cli.gradcheck import GradcheckError, write_json

OTHER = ("user_module", "user_model", "term", "input_shape")


def run_user_layers(args) -> int:
    from handgrad.gradcheck import check_layers

    if args.user_layers is None:
        raise GradcheckError("--only applies to --user-layers (the layer names of your layers.py)")
    for name in OTHER:
        if getattr(args, name, None):
            raise GradcheckError(f"--{name.replace('_', '-')} does not apply to --user-layers")
    path = Path(args.user_layers)
    if not path.is_file():
        raise GradcheckError(f"--user-layers: {path} does not exist")
    start = time.perf_counter()
    report = check_layers(path, verbose=True, only=args.only)
    print(f"checked in {time.perf_counter() - start:.2f} s")
    if args.json:
        write_json(Path(args.json), report.to_dict())
    return 0 if report.passed else 1
