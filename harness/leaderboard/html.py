"""The static leaderboard page: ``index.html`` with sortable tables and the figures.

The page is self-contained (inline CSS and JS, figures as PNG files next to it). Clicking a
header sorts its table (numbers numerically, missing values last); the query or hash
``sort=TABLE:COLUMN:asc|desc`` (repeatable, comma-separated) sorts on load, e.g.
``index.html?sort=dp-enhance:1:desc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from harness.leaderboard.figures import FigureSpec
from harness.leaderboard.sources import Source, source_summary
from harness.leaderboard.tables import Table

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def table_context(table: Table, links: dict[str, str]) -> dict[str, Any]:
    groups = table.groups
    starts = [i == 0 or c.group != table.columns[i - 1].group for i, c in enumerate(table.columns)]
    return {
        "id": table.id,
        "title": table.title,
        "caption": table.caption,
        "model": groups[0][0] if len(groups) == 1 else None,
        "groups": groups if len(groups) > 1 else [],
        "headers": [{"label": table.row_header, "type": "text", "start": False}]
        + [
            {"label": c.label, "type": "number", "group": c.group, "start": s}
            for c, s in zip(table.columns, starts, strict=True)
        ],
        "rows": [
            {
                "key": row.key,
                "label": row.label,
                "cells": [
                    {
                        "text": c.text(with_n=False),
                        "n": c.n if c.value is not None else None,
                        "value": "" if c.value is None else repr(c.value),
                        "start": s,
                    }
                    for c, s in zip(row.cells, starts, strict=True)
                ],
            }
            for row in table.rows
        ],
        "links": links,
    }


def render_page(
    tables: Sequence[Table],
    figures: Sequence[tuple[FigureSpec, str, tuple[int, int]]],  # spec, relative src, (w, h)
    sources: Sequence[Source],
    models: Sequence[str],
    warnings: Sequence[str],
    table_links: dict[str, dict[str, str]],
) -> str:
    template = _environment().get_template("index.html.j2")
    return template.render(
        tables=[table_context(t, table_links.get(t.id, {})) for t in tables],
        figures=[
            {"id": s.id, "title": s.title, "src": src, "width": w, "height": h} for s, src, (w, h) in figures
        ],
        sources=[source_summary(s) for s in sources],
        models=list(models),
        warnings=list(warnings),
    )
