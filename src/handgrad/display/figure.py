"""``InlineFigure``: a matplotlib ``Figure`` (Agg canvas, no pyplot) that Jupyter shows inline."""
from __future__ import annotations

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A ``Figure`` with ``_repr_png_``: the last expression of a notebook cell shows it as a PNG image.

    Everything else is matplotlib's: ``fig.savefig(path)``, ``fig.axes``. No pyplot state is touched, so
    figures are never shown twice and never pile up in memory.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def png_bytes(self, dpi: int = 100) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png_bytes()


def png_data_uri(fig: Figure, dpi: int = 100) -> str:
    """``data:image/png;base64,...`` of ``fig``, for an ``<img>`` inside an HTML fragment."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
