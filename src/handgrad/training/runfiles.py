"""One validated reader for the files of a run: a checkpoint's meta, ``config.json``, ``history.json``.

Everything handgrad reads back from a run directory passes through here and is checked against its schema,
types, ranges and sizes, before any of it is used: a hand-edited or damaged file is a ``RunFileError`` (a
``ValueError``: the CLI prints it as one line and exits 1) naming the file, the field and what is wrong, never a
``KeyError`` or a ``TypeError`` from deep inside handgrad. JSON files are read only when they are regular files
of at most ``JSON_LIMIT`` bytes.

Checkpoint meta (``check_meta``), written by ``Trainer.save_checkpoint``:

==================  ==================================================================================
``epoch``           int >= 0, completed epochs
``config``          a ``TrainConfig`` (``config_from_dict``)
``class_names``     2..``MAX_CLASSES`` strings
``input_shape``     ``[C, H, W]``, the data set's per-sample shape (so no absurd size is ever allocated)
``normalization``   ``{"mean": [C finite numbers], "std": [C finite numbers > 0]}``
``model_source``    null, or ``{"origin": str, "file": "model.py", "function": identifier, "sha256": 64 hex}``
                    (the network is only ever built from the run's own ``model.py``, never a path named here)
``history``         optional, the rows of ``history.json`` (``check_history``)
``best_val_loss``   optional, null or a finite number >= 0
``stale_epochs``    optional, int >= 0
==================  ==================================================================================
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from handgrad._atomic import read_regular
from handgrad.errors import RunFileError

JSON_LIMIT = 256 * 2**20  # bytes of a config.json/history.json/metrics.json (a 1,000-epoch history is ~10 MB)
MAX_CLASSES = 100_000
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TERMS = ("total", "data", "weight", "activity", "accuracy")
WRITTEN_BY = "was it written by 'handgrad train'?"


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_json(path, what: str):
    """The JSON document in ``path`` (a regular file, at most ``JSON_LIMIT`` bytes); RunFileError naming it."""
    path = Path(path)
    data = read_regular(path, JSON_LIMIT, what)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RunFileError(f"{path} is not a {what} written by handgrad: not UTF-8 text ({e.reason} at byte "
                           f"{e.start})") from None
    except ValueError as e:
        raise RunFileError(f"{path} is not a {what} written by handgrad: not valid JSON ({e})") from None


# ---------------------------------------------------------------------------------------------- config.json
def config_from_dict(where: str, data):
    """A ``TrainConfig`` from ``data``; every problem is a RunFileError starting with ``where``."""
    from handgrad.config import TrainConfig

    if not isinstance(data, dict):
        raise RunFileError(f"{where} must be a JSON object of training settings, got {_show(data)}")
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as e:
        raise RunFileError(f"{where}: {str(e).removeprefix('TrainConfig: ')}") from None


def load_config(path):
    """``config.json`` of a run as a ``TrainConfig``."""
    return config_from_dict(f"{path}", read_json(path, "config.json"))


# ---------------------------------------------------------------------------------------------- history.json
def _check_terms(where: str, value, required: bool) -> None:
    if not isinstance(value, dict):
        raise RunFileError(f"{where} must be a dict of loss terms and accuracy, got {_show(value)}")
    for key in TERMS:
        if key not in value:
            if required:
                raise RunFileError(f"{where} lacks {key!r}")
            continue
    for key, v in value.items():
        if not (_is_number(v) and math.isfinite(v)):
            raise RunFileError(f"{where}.{key} must be a finite number, got {_show(v)}")


def _check_monitor(where: str, value) -> None:
    if not isinstance(value, dict):
        raise RunFileError(f"{where} must be a dict of monitor values, got {_show(value)}")
    for key, v in value.items():
        if v is None or _is_number(v):
            continue
        if not isinstance(v, dict):
            raise RunFileError(f"{where}.{key} must be a number or a dict, got {_show(v)}")
        for k, x in v.items():
            ok = x is None or _is_number(x) or (isinstance(x, list) and all(_is_number(n) for n in x))
            if not ok:
                raise RunFileError(f"{where}.{key}.{k} must be a number or a list of numbers, got {_show(x)}")


def check_history(where: str, rows) -> list:
    """``rows`` as ``Trainer`` writes them: a list of dicts with ``epoch`` 1, 2, ..., numbers for ``lr``,
    ``train`` and ``val`` terms, and a ``monitor`` dict; RunFileError naming ``where``, the row and the field."""
    if not isinstance(rows, list):
        raise RunFileError(f"{where} is not a history written by 'handgrad train': expected a list of epoch rows, "
                           f"got a JSON {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not (isinstance(row, dict) and _is_int(row.get("epoch")) and isinstance(row.get("train"), dict)):
            raise RunFileError(f"{where} is not a history written by 'handgrad train': row {i} is not a dict with "
                               f"an integer 'epoch' and a 'train' dict: {str(row)[:80]}")
        at = f"{where} row {i} (epoch {row['epoch']}):"
        if row["epoch"] != i + 1:
            raise RunFileError(f"{at} 'epoch' must be {i + 1} (rows are epochs 1, 2, ... in order), got {row['epoch']}")
        if "lr" in row and not (_is_number(row["lr"]) and math.isfinite(row["lr"])):
            raise RunFileError(f"{at} 'lr' must be a finite number, got {_show(row['lr'])}")
        _check_terms(f"{at} 'train'", row["train"], required=True)
        if "val" in row:
            _check_terms(f"{at} 'val'", row["val"], required=True)
        if "monitor" in row:
            _check_monitor(f"{at} 'monitor'", row["monitor"])
    return rows


def load_history(path) -> list:
    """The rows of ``history.json`` at ``path``, checked (``check_history``)."""
    return check_history(str(path), read_json(path, "history"))


# ---------------------------------------------------------------------------------------------- checkpoint meta
META_FIELDS = ("epoch", "config", "class_names", "input_shape", "normalization")


def check_meta(path, meta) -> dict:
    """``meta`` of checkpoint ``path``, checked against the schema in the module docstring."""
    from handgrad.datasets.registry import DATASETS

    head = f"checkpoint {path}"
    if not isinstance(meta, dict):
        raise RunFileError(f"{head}: its meta is a {type(meta).__name__}, not a dict; {WRITTEN_BY}")
    for key in META_FIELDS:
        if key not in meta:
            raise RunFileError(f"{head}: its meta lacks the field {key!r}; {WRITTEN_BY}")

    def bad(field: str, expected: str, value=None):
        return RunFileError(f"{head}: its meta field {field!r} must be {expected}, got {_show(value)}")

    check_progress(path, meta)
    if not isinstance(meta["config"], dict):
        raise bad("config", "a dict", meta["config"])
    config = config_from_dict(f"{head}: its meta field 'config'", {**meta["config"], "name": None})
    names = meta["class_names"]
    if not (isinstance(names, list) and 2 <= len(names) <= MAX_CLASSES and all(isinstance(n, str) for n in names)):
        raise bad("class_names", f"a list of 2 to {MAX_CLASSES:,} strings", names)
    shape = meta["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(d) and d >= 1 for d in shape)):
        raise bad("input_shape", "[C, H, W], three positive integers", shape)
    expected = list(DATASETS[config.dataset].shape)
    if shape != expected:
        raise bad("input_shape", f"{expected}, the shape of {config.dataset}'s images", shape)
    norm = meta["normalization"]
    if not isinstance(norm, dict) or not {"mean", "std"} <= set(norm):
        raise RunFileError(f"{head}: its meta field 'normalization' must hold 'mean' and 'std', got {_show(norm)}")
    for key, positive in (("mean", False), ("std", True)):
        v = norm[key]
        if not (isinstance(v, list) and len(v) == shape[0] and all(_is_number(x) and math.isfinite(x) for x in v)
                and (not positive or all(x > 0 for x in v))):
            raise bad(f"normalization.{key}", f"a list of {shape[0]} finite numbers" + (" > 0" if positive else ""),
                      v)
    source = meta.get("model_source")
    if source is not None:
        _check_source(head, source, bad)
    return meta


def check_progress(path, meta) -> dict:
    """The fields of ``meta`` that ``Trainer.restore`` needs (``epoch``, ``history``, ``best_val_loss``,
    ``stale_epochs``), checked; any checkpoint of a ``Trainer``, with or without a run's other fields."""
    head = f"checkpoint {path}"
    if not isinstance(meta, dict):
        raise RunFileError(f"{head}: its meta is a {type(meta).__name__}, not a dict; {WRITTEN_BY}")
    if "epoch" not in meta:
        raise RunFileError(f"{head}: its meta lacks the field 'epoch'; {WRITTEN_BY}")

    def bad(field: str, expected: str, value=None):
        return RunFileError(f"{head}: its meta field {field!r} must be {expected}, got {_show(value)}")

    if not (_is_int(meta["epoch"]) and meta["epoch"] >= 0):
        raise bad("epoch", "an integer >= 0", meta["epoch"])
    if "history" in meta:
        check_history(f"{head}: its meta field 'history'", meta["history"])
        if len(meta["history"]) != meta["epoch"]:
            raise bad("history", f"one row per completed epoch ({meta['epoch']})", f"{len(meta['history'])} rows")
    best = meta.get("best_val_loss")
    if best is not None and not (_is_number(best) and math.isfinite(best) and best >= 0):
        raise bad("best_val_loss", "a finite number >= 0 or null", best)
    stale = meta.get("stale_epochs", 0)
    if not (_is_int(stale) and stale >= 0):
        raise bad("stale_epochs", "an integer >= 0", stale)
    return meta


def _check_source(head: str, source, bad) -> None:
    from handgrad.model_source import COPY_NAME

    if not isinstance(source, dict) or set(source) != {"origin", "file", "function", "sha256"}:
        raise bad("model_source", "null or a dict of 'origin', 'file', 'function', 'sha256'", source)
    if source["file"] != COPY_NAME:
        raise bad("model_source.file", f"{COPY_NAME!r} (a run's network is only ever built from its own copy "
                  f"{COPY_NAME}, beside its checkpoints/ directory)", source["file"])
    if not (isinstance(source["function"], str) and source["function"].isidentifier()):
        raise bad("model_source.function", "a Python identifier", source["function"])
    if not (isinstance(source["sha256"], str) and SHA256.match(source["sha256"])):
        raise bad("model_source.sha256", "64 lowercase hex digits", source["sha256"])
    if not isinstance(source["origin"], str):
        raise bad("model_source.origin", "a string", source["origin"])
