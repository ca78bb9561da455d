"""Execute notebooks top to bottom in a real Jupyter kernel (nbclient, ipykernel) and report how long each took.

``python -m tests.notebooks.execute [NOTEBOOK ...] [--out DIR]`` (``make notebooks``) runs the notebooks of
``notebooks/`` and writes the executed copies, outputs included, to ``DIR`` (default ``build/notebooks``); the
tracked notebooks stay stripped. The kernel inherits the environment: ``HANDGRAD_DATA`` chooses the data.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_S = 600  # one cell; a hung kernel fails the run instead of blocking it


def execute(path: Path, cwd: Path, timeout: int = CELL_TIMEOUT_S, env: dict | None = None
            ) -> tuple[nbformat.NotebookNode, float]:
    """The executed notebook (outputs in its cells) and the seconds it took; ``cwd`` is the kernel's working
    directory, ``env`` its environment (default: this process's). A cell that raises is a
    ``nbclient.exceptions.CellExecutionError`` naming the cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute(**({} if env is None else {"env": env}))
    return nb, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "notebooks")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb, seconds = execute(path, args.out)
        nbformat.write(nb, args.out / path.name)
        print(f"{path.name}: {seconds:.1f} s -> {args.out / path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
