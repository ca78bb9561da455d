"""Figures of a training run (matplotlib's object API, no display needed; in Jupyter each figure shows inline).

``plot_run(run_dir)`` writes into ``<run_dir>/plots/``:

- ``losses.png``: one panel per loss term (total, data, weight, activity), train and validation;
- ``accuracy.png``: train and validation accuracy;
- ``activations.png``: one panel per monitored layer, its activation histogram at the first and last epoch;
- ``penalty_share.png``: each penalty's share of the total training loss per epoch.

``compare_runs(run_dirs, out)`` overlays several runs (validation accuracy, validation and training data loss).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from handgrad._atomic import atomic_write
from handgrad.display.figure import InlineFigure
from handgrad.training.history import History
from handgrad.training.monitors import HIST_EDGES, MonitorReport

TERMS = ("total", "data", "weight", "activity")


def _figure(panels: int, width: float = 4.0, height: float = 3.2):
    cols = min(panels, 4)
    rows = -(-panels // cols)
    fig = InlineFigure(figsize=(width * cols, height * rows), layout="constrained")  # shows itself in Jupyter
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(panels)]
    return fig, axes


def save(fig: Figure, path) -> Path:
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))


def _epochs(history: History):
    return [r["epoch"] for r in history.rows]


def _label(ax, title: str, xlabel: str = "epoch") -> None:
    """A panel's title, x label and legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend()


def losses_figure(history: History) -> Figure:
    fig, axes = _figure(len(TERMS))
    epochs = _epochs(history)
    for ax, term in zip(axes, TERMS):
        ax.plot(epochs, history.column(f"train/{term}"), label="train")
        val = history.column(f"val/{term}")
        if any(v is not None for v in val):
            ax.plot(epochs, val, label="validation")
        _label(ax, f"{term} loss")
    return fig


def accuracy_figure(history: History) -> Figure:
    fig, (ax,) = _figure(1, width=5)
    epochs = _epochs(history)
    ax.plot(epochs, history.column("train/accuracy"), label="train")
    ax.plot(epochs, history.column("val/accuracy"), label="validation")
    _label(ax, "accuracy")
    return fig


def monitored(history: History) -> list[str]:
    """Layers with activation histograms in the history, in network order."""
    first = MonitorReport.from_dict(history.rows[0].get("monitor") or {}) if history.rows else MonitorReport({})
    return [name for name, layer in first.layers.items() if layer.histogram]


def activations_figure(history: History) -> Figure:
    layers = monitored(history)
    fig, axes = _figure(max(len(layers), 1))
    centers = (HIST_EDGES[:-1] + HIST_EDGES[1:]) / 2
    width = HIST_EDGES[1] - HIST_EDGES[0]
    for ax, name in zip(axes, layers):
        for row, label in ((history.rows[0], f"epoch {history.rows[0]['epoch']}"),
                           (history.rows[-1], f"epoch {history.rows[-1]['epoch']}")):
            counts = np.asarray(MonitorReport.from_dict(row["monitor"]).layers[name].histogram, dtype=float)
            ax.bar(centers, counts / max(counts.sum(), 1), width=width, alpha=0.5, label=label)
        _label(ax, f"{name} activations", "value (clipped to [-3, 3])")
    return fig


def penalty_share_figure(history: History) -> Figure:
    fig, (ax,) = _figure(1, width=5)
    epochs = _epochs(history)
    ax.plot(epochs, history.column("monitor/weight_penalty_share"), label="weight penalty")
    for name in monitored(history):
        share = history.column(f"monitor/{name}/penalty_share")
        if any(v is not None for v in share):
            ax.plot(epochs, share, label=f"{name} activity penalty")
    ax.set_ylim(bottom=0)
    _label(ax, "share of the total training loss")
    return fig


FIGURES = {"losses": losses_figure, "accuracy": accuracy_figure, "activations": activations_figure,
           "penalty_share": penalty_share_figure}


def plot_run(run_dir, out_dir=None) -> dict[str, Path]:
    """Write every figure of ``run_dir`` as PNG; returns ``name -> path``."""
    run_dir = Path(run_dir)
    if not (run_dir / "history.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no history.json: is it a run directory of 'handgrad train'?")
    history = History.load(run_dir)
    if not history.rows:
        raise ValueError(f"{run_dir}/history.json has no epochs yet")
    out_dir = Path(out_dir) if out_dir else run_dir / "plots"
    return {name: save(_make(make, history, run_dir), out_dir / f"{name}.png") for name, make in FIGURES.items()}


def _make(make, history: History, *run_dirs) -> Figure:
    """``make(history)``; a history whose rows lack or garble what a figure needs is a ValueError naming it."""
    try:
        return make(history)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        where = ", ".join(str(Path(d) / "history.json") for d in run_dirs)
        raise ValueError(f"{where}: malformed history, cannot draw it ({type(e).__name__}: {e})") from e


def compare_figure(histories: dict[str, History]) -> Figure:
    fig, axes = _figure(3)
    for label, history in histories.items():
        epochs = _epochs(history)
        axes[0].plot(epochs, history.column("val/accuracy"), label=label)
        axes[1].plot(epochs, history.column("val/data"), label=label)
        axes[2].plot(epochs, history.column("train/data"), label=label)
    for ax, title in zip(axes, ("validation accuracy", "validation data loss", "training data loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    return fig


def run_labels(run_dirs) -> list[str]:
    """A distinct legend label per run: its folder name, or as many trailing path components as it takes
    (``o1/same``, ``o2/same``); the same directory given twice is an error."""
    paths = [Path(d) for d in run_dirs]
    seen = {}
    for path in paths:
        real = path.resolve()
        if real in seen:
            raise ValueError(f"{path} is given twice (as {seen[real]} too): each run is drawn once")
        seen[real] = path
    parts = [p.resolve().parts for p in paths]
    depth = 1
    while True:
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) or depth >= max(len(p) for p in parts):
            return labels
        depth += 1


def compare_runs(run_dirs, out) -> Path:
    """One figure of every run in ``run_dirs`` (each labelled by ``run_labels``), written to ``out``."""
    histories = {}
    for run_dir, label in zip(map(Path, run_dirs), run_labels(run_dirs)):
        if not (run_dir / "history.json").is_file():
            raise FileNotFoundError(f"{run_dir} has no history.json: is it a run directory of 'handgrad train'?")
        histories[label] = History.load(run_dir)
    return save(_make(compare_figure, histories, *run_dirs), out)
