"""How handgrad's objects show themselves in Jupyter: the HTML forms behind their ``_repr_html_`` methods.

- ``report_html(report)``: a gradient check's or the doctor's report: the verdict, a parameter x term table
  (failing cells and rows marked), each failure's diagnosis as wrapped text, the batch-scaling probe, notes;
- ``layers_html(report)``: the layers doctor's report (``check_layers``): one row per layer (forward, backward),
  failing rows marked, each failure's diagnosis and what to fix as wrapped text;
- ``summary_html(model)``: ``Sequential.summary()`` as a table;
- ``history_html(history)``: a training history's last epochs and a small plot of its curves;
- ``InlineFigure``: the matplotlib figure that ``handgrad.plots`` returns: shown inline (``_repr_png_``),
  saved with ``savefig`` as any figure.

The text forms (``str(report)``, ``model.summary()``) are unchanged; these modules only read public fields.
"""
from handgrad.display.figure import InlineFigure
from handgrad.display.history_html import history_html
from handgrad.display.layers_html import layers_html
from handgrad.display.model_html import summary_html
from handgrad.display.report_html import report_html

__all__ = ["InlineFigure", "history_html", "layers_html", "report_html", "summary_html"]
