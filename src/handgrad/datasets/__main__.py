"""``python -m handgrad.datasets fetch NAME [--data-dir D]``: make sure a data set is on disk.

Finds both splits (downloading what is missing), checks every file that has a published checksum, and
prints where they are. On failure prints the one-paragraph explanation (no traceback) and exits 1.
"""
from __future__ import annotations

import argparse
import sys

from handgrad.datasets import checksums, loading, registry
from handgrad.datasets.errors import DatasetError


def fetch(name: str, data_dir=None, download: bool = True, out=None) -> None:
    """Locate (or download) both splits of ``name``, verify what can be verified, and report to ``out``
    (default ``sys.stdout``)."""
    out = sys.stdout if out is None else out
    spec = registry.get(name)
    by_name = {}
    for f in spec.all_files() + spec.alternates:
        by_name[f.filename] = f
        by_name[f.filename.removesuffix(".gz")] = f  # an un-gzipped copy is checked by its content hash
    for split in registry.SPLITS:
        located = loading.find(name, split, data_dir=data_dir, download=download)
        print(f"{name} {split}: {located.directory}", file=out)
        for path in located.paths:
            f = by_name.get(path.name)
            how = checksums.verify(path, f) if f is not None else "no published checksum for this file"
            print(f"  {path.name}: {how}", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handgrad.datasets",
                                     description="Make sure a data set is on disk (found or downloaded).")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fetch", help="find or download a data set and print where it is")
    p.add_argument("name", choices=tuple(registry.DATASETS), help="data set")
    p.add_argument("--data-dir", default=None, help="the only directory used: read from, or downloaded into "
                   "(created if missing) when it holds none of the files")
    p.add_argument("--no-download", action="store_true", help="only look for the files, never download")
    args = parser.parse_args(argv)
    try:
        fetch(args.name, data_dir=args.data_dir, download=not args.no_download)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
