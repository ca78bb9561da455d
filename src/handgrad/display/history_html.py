"""The HTML form of a training ``History``: its last epochs as a table and a small plot of its curves."""
from __future__ import annotations

import math

from handgrad.display.markup import element, fragment, table, text

LAST = 5  # epochs shown in the table: the recent ones are what a user looks at while training
COLUMNS = (("train/total", "train loss"), ("train/data", "train data"), ("train/accuracy", "train acc"),
           ("val/data", "val data"), ("val/accuracy", "val acc"), ("lr", "lr"))


def _fmt(key: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if key.endswith("accuracy"):
        return f"{value:.2%}"
    return f"{value:.4g}"


def curves_figure(history):
    """A small two-panel figure: training and validation data loss, training and validation accuracy."""
    from matplotlib.ticker import MaxNLocator

    from handgrad.display.figure import InlineFigure

    fig = InlineFigure(figsize=(6.4, 2.2), layout="constrained")
    epochs = history.column("epoch")
    for i, (what, title) in enumerate((("data", "data loss"), ("accuracy", "accuracy"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for split, label in (("train", "train"), ("val", "validation")):
            values = history.column(f"{split}/{what}")
            if any(v is not None for v in values):
                ax.plot(epochs, [math.nan if v is None else v for v in values], marker="o", markersize=3,
                        label=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    return fig


def history_html(history) -> str:
    """The last ``LAST`` epochs (loss terms, accuracy, learning rate) and, from two epochs on, the curves."""
    rows = history.rows
    if not rows:
        return fragment("history", element("p", "History: no epochs yet", class_="hg-title"))
    shown = rows[-LAST:]
    values = {k: history.column(k)[-LAST:] for k, _ in COLUMNS}
    columns = [(k, label) for k, label in COLUMNS if any(v is not None for v in values[k])]
    trs = []
    for i, row in enumerate(shown):
        trs.append(element("tr", element("th", str(row["epoch"])) +
                           "".join(element("td", text(_fmt(k, values[k][i])), class_="hg-num") for k, _ in columns),
                           class_="hg-epoch", data_epoch=row["epoch"]))
    title = f"History: {len(rows)} epochs" + (f" (the last {len(shown)} shown)" if len(rows) > len(shown) else "")
    body = element("p", element("b", text(title)), class_="hg-title") + table(["epoch", *(c[1] for c in columns)], trs)
    if len(rows) >= 2:
        from handgrad.display.figure import png_data_uri

        body += element("img", "", src=png_data_uri(curves_figure(history), dpi=80), alt="training curves",
                        class_="hg-plot")
    return fragment("history", body)
