"""Per-epoch history, written as ``history.json`` (everything) and ``history.csv`` (the scalar columns) after
every epoch, atomically."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from handgrad._atomic import atomic_write_text


def flatten(row: dict, prefix: str = "") -> dict:
    """``{"monitor": {"conv2d": {"mean_abs": 1}}}`` -> ``{"monitor/conv2d/mean_abs": 1}``; lists are dropped."""
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}/"))
        elif not isinstance(value, (list, tuple)):
            out[name] = value
    return out


class History:
    """A list of per-epoch dicts (``epoch``, ``train/...``, ``val/...``, ``lr``, ``monitor/...``)."""

    def __init__(self, rows=None):
        self.rows: list[dict] = list(rows or [])

    def append(self, row: dict) -> None:
        self.rows.append(row)

    def column(self, key: str) -> list:
        """Values of a flattened column such as ``"val/accuracy"`` (None where absent)."""
        return [flatten(r).get(key) for r in self.rows]

    def save(self, run_dir) -> None:
        run_dir = Path(run_dir)
        atomic_write_text(run_dir / "history.json", json.dumps(self.rows, indent=1), inside=run_dir)
        flat = [flatten(r) for r in self.rows]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
        atomic_write_text(run_dir / "history.csv", buf.getvalue(), inside=run_dir)

    @classmethod
    def load(cls, run_dir) -> "History":
        """Read ``run_dir/history.json``, checked by ``training.runfiles.load_history``: a RunFileError naming the
        file, the row and the field when it is not JSON or not the epoch rows ``Trainer`` writes."""
        from handgrad.training.runfiles import load_history

        return cls(load_history(Path(run_dir) / "history.json"))

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        from handgrad.display.history_html import history_html  # the last epochs and a small plot, in Jupyter

        return history_html(self)
