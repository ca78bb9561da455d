"""``handgrad plot RUN_DIR`` and ``handgrad compare RUN_DIR...``."""
from __future__ import annotations


def register(subparsers):
    p = subparsers.add_parser("plot", help="plot a run: losses by term, accuracy, activations, penalty share",
                              description="Write PNG figures of a training run into RUN_DIR/plots (or --out).")
    p.add_argument("run_dir", help="a run directory written by 'handgrad train'")
    p.add_argument("--out", default=None, help="output directory (default: RUN_DIR/plots)")
    p.set_defaults(run=run_plot)

    c = subparsers.add_parser("compare", help="overlay several runs in one figure",
                              description="Overlay the validation accuracy and losses of several runs.")
    c.add_argument("run_dirs", nargs="+", help="run directories written by 'handgrad train'")
    c.add_argument("--out", default="compare.png", help="output PNG (default: compare.png)")
    c.set_defaults(run=run_compare)


def run_plot(args) -> int:
    from pathlib import Path

    from handgrad.plots import plot_run

    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a file, not a directory")
    for name, path in plot_run(args.run_dir, args.out).items():
        print(f"{name}: {path}")
    return 0


def run_compare(args) -> int:
    from pathlib import Path

    from handgrad.plots import compare_runs, run_labels

    if Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a directory; give the PNG file to write, e.g. {args.out}/compare.png")
    path = compare_runs(args.run_dirs, args.out)
    print(f"{path}: {len(args.run_dirs)} runs ({', '.join(run_labels(args.run_dirs))})")
    return 0
