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
        atomic_write_text(run_dir / "history.json", json.dumps(self.rows, indent=1))
        flat = [flatten(r) for r in self.rows]
        columns = list(dict.fromkeys(k for r in flat for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
        atomic_write_text(run_dir / "history.csv", buf.getvalue())

    @classmethod
    def load(cls, run_dir) -> "History":
        """Read ``run_dir/history.json``; ValueError naming the file if it is not JSON or not a list of epoch rows
        (dicts with an integer ``epoch`` and a ``train`` dict, as ``Trainer`` writes them)."""
        path = Path(run_dir) / "history.json"
        try:
            rows = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not a history written by 'handgrad train': not valid JSON ({e})") from e
        if not isinstance(rows, list):
            raise ValueError(f"{path} is not a history written by 'handgrad train': expected a list of epoch rows, "
                             f"got a JSON {type(rows).__name__}")
        for i, row in enumerate(rows):
            if not (isinstance(row, dict) and isinstance(row.get("epoch"), int) and isinstance(row.get("train"), dict)):
                raise ValueError(f"{path} is not a history written by 'handgrad train': row {i} is not a dict with "
                                 f"an integer 'epoch' and a 'train' dict: {str(row)[:80]}")
        return cls(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        from handgrad.display.history_html import history_html  # the last epochs and a small plot, in Jupyter

        return history_html(self)
