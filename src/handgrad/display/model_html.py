"""The HTML form of ``Sequential.summary()``: one row per layer, then the input shape, dtype and total."""
from __future__ import annotations

from handgrad.display.markup import element, fragment, table, text


def summary_html(model) -> str:
    """``model.summary_rows()`` (header first) as a table, with the input shape, dtype and parameter count."""
    header, *rows = model.summary_rows()
    trs = [element("tr", element("th", text(r[0])) + element("td", text(r[1]), class_="hg-mono") +
                   element("td", text(r[2]), class_="hg-num") + element("td", text(r[3]), class_="hg-text"),
                   class_="hg-layer") for r in rows]
    foot = element("p", text(f"Input shape: (N, {', '.join(map(str, model.input_shape))})   dtype: "
                             f"{model.dtype.name}   Total params: {model.param_count():,}"), class_="hg-title")
    return fragment("model", element("p", element("b", "Sequential"), class_="hg-title") +
                    table(list(header), trs) + foot)
