"""Reading the leaderboard page back: its structure and the row order of its tables."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Checks that every element is closed in order and collects ids, resources and the
    body rows of each table (``tables[id] = [(row key, [cell data-value, ...]), ...]``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.resources: list[tuple[str, str]] = []  # (tag, src/href)
        self.scripts_with_src = 0
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.sorted: dict[str, tuple[int, str]] = {}  # table id -> (leaf column, aria-sort)
        self.doctype = False
        self._table: list[str] = []
        self._in_body = False
        self._leaf = -1

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        for k in ("src", "href"):
            if a.get(k):
                self.resources.append((tag, a[k] or ""))
        if tag == "script" and a.get("src"):
            self.scripts_with_src += 1
        if tag == "table":
            self._table.append(a.get("id") or "")
            self.tables[self._table[-1]] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.tables[self._table[-1]].append((a.get("data-key") or "", []))
        elif tag in ("td", "th") and self._in_body and self._table:
            self.tables[self._table[-1]][-1][1].append(a.get("data-value") or "")
        elif tag == "tr" and self._table:
            self._leaf = -1
        if tag == "th" and not self._in_body and self._table:
            self._leaf += 1
            if a.get("aria-sort"):
                self.sorted[self._table[-1]] = (self._leaf, a["aria-sort"] or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag == "table":
            self._table.pop()
        elif tag == "tbody":
            self._in_body = False


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    if page.stack:
        page.errors.append(f"unclosed: {page.stack}")
    return page
