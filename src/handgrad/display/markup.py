"""A few helpers that write well-formed HTML fragments (every tag closed, every text and attribute escaped).

The fragments parse as XML too (no ``&nbsp;``, no unclosed ``<br>``), which is what the tests check.
"""
from __future__ import annotations

from html import escape

STYLE = """
.hg {font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px; max-width: 56em;
     line-height: 1.35; color: #1f2328;}
.hg table {border-collapse: collapse; margin: 4px 0 8px 0; width: auto;}
.hg th, .hg td {padding: 2px 8px; border-bottom: 1px solid #d0d7de; text-align: left; vertical-align: top;
                white-space: nowrap;}
.hg th {background: #f6f8fa; font-weight: 600;}
.hg td.hg-num {font-family: ui-monospace, SFMono-Regular, Menlo, monospace; text-align: right;}
.hg td.hg-mono {font-family: ui-monospace, SFMono-Regular, Menlo, monospace;}
.hg td.hg-text {white-space: normal; overflow-wrap: anywhere; max-width: 40em;}
.hg .hg-ok {background: #e6f7ea;}
.hg .hg-warn {background: #fff8c5;}
.hg .hg-fail {background: #ffd7d5;}
.hg tr.hg-failing th {color: #a40e26;}
.hg .hg-verdict {font-weight: 700; padding: 3px 8px; margin: 4px 0; display: inline-block; border-radius: 4px;}
.hg .hg-title {color: #57606a; margin: 2px 0;}
.hg ul {margin: 2px 0 6px 0; padding-left: 1.4em;}
.hg li {margin: 3px 0; overflow-wrap: anywhere;}
.hg .hg-note {color: #57606a; overflow-wrap: anywhere;}
.hg code {font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px;}
"""


def attrs(**values) -> str:
    """`` class="a" data-term="b"`` from keyword arguments (``class_`` -> ``class``, ``data_x`` -> ``data-x``);
    None values are left out."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        out.append(f' {name}="{escape(str(value), quote=True)}"')
    return "".join(out)


def element(tag: str, content: str = "", **values) -> str:
    """``<tag attrs>content</tag>``; ``content`` is HTML already (escape text with ``text``)."""
    return f"<{tag}{attrs(**values)}>{content}</{tag}>"


def text(value) -> str:
    return escape(str(value), quote=False)


def fragment(kind: str, body: str) -> str:
    """The whole fragment: one root ``div.hg`` holding the style sheet and ``body``."""
    return element("div", element("style", STYLE) + body, class_=f"hg hg-{kind}")


def table(headers: list[str], rows: list[str]) -> str:
    """``rows`` are ``<tr>`` elements already."""
    head = element("tr", "".join(element("th", text(h)) for h in headers))
    return element("table", element("thead", head) + element("tbody", "".join(rows)))
