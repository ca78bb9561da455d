"""Reading the HTML fragments back: strict XML parsing (well-formed: every tag closed, every entity known) and
the cells, rows and list items the tests look for."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser


def parse(fragment: str) -> ET.Element:
    """The fragment's root element; raises ``ET.ParseError`` if it is not well-formed."""
    return ET.fromstring(fragment)


class _Checker(HTMLParser):
    """HTML's own parser: every start tag but the void ones must be closed in order."""

    VOID = {"img", "br", "hr", "meta", "link", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


def html_errors(fragment: str) -> list[str]:
    checker = _Checker()
    checker.feed(fragment)
    checker.close()
    return checker.errors + [f"<{t}> never closed" for t in checker.stack]


def classes(el: ET.Element) -> set[str]:
    return set(el.get("class", "").split())


def find_all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    return [e for e in root.iter(tag) if cls is None or cls in classes(e)]


def text_of(el: ET.Element) -> str:
    return "".join(el.itertext())
