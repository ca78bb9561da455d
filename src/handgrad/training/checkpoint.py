"""Checkpoints: one ``.npz`` file read with ``allow_pickle=False`` (no code runs when loading it).

Layout of the archive:

- ``param/<layer>.<param>``: every parameter;
- ``state/<layer>.<name>``: every layer's state (``Sequential.states()``: moving statistics, dropout
  generator words);
- ``optim/<key>``: the optimizer's ``state_dict()`` (flat arrays);
- ``meta``: a JSON string with ``epoch`` (completed epochs), ``config``, ``history`` and anything the caller
  adds (e.g. normalization statistics).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handgrad._atomic import atomic_write


@dataclass
class Checkpoint:
    params: dict
    optimizer_state: dict
    meta: dict
    state: dict = field(default_factory=dict)

    @property
    def model_state(self) -> dict:
        """Parameters and layer state together, for ``Sequential.load_state_dict``."""
        return {**self.params, **self.state}

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])


def save_checkpoint(path, params: dict, optimizer_state: dict, meta: dict, state: dict | None = None) -> Path:
    """Write the checkpoint atomically (see ``handgrad._atomic``); ``state``: the model's layer states."""
    arrays = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    arrays.update({f"state/{k}": np.asarray(v) for k, v in (state or {}).items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in optimizer_state.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; a missing or damaged file gives a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            params = {k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")}
            optimizer_state = {k[len("optim/"):]: data[k] for k in data.files if k.startswith("optim/")}
            state = {k[len("state/"):]: data[k] for k in data.files if k.startswith("state/")}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"checkpoint {path} is not a handgrad checkpoint or is damaged: {e}") from e
    return Checkpoint(params, optimizer_state, meta, state)


def restore_model(model, ckpt: Checkpoint, path) -> None:
    """Load the parameters and layer states of ``ckpt`` (read from ``path``) into ``model``; a checkpoint of
    another network is a ``ValueError`` naming the file and the keys that differ."""
    try:
        model.load_state_dict(ckpt.model_state)
    except KeyError as e:
        older = not ckpt.state and model.states()
        hint = " (it holds no layer state: written by an older handgrad?)" if older else ""
        raise ValueError(f"checkpoint {path} does not fit this model{hint}: {e.args[0]}") from e
