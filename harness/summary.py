"""A run's summary on the console: each task's tables, as the leaderboard lays them out
(from what the task declares) or in the task's own console layout (``Output.console``), a
task without rows with the reason (``summary["empty"]``), then the failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from harness.leaderboard.sources import MODEL, task_order
from harness.leaderboard.tables import Table, task_output, task_tables


def table_text(table: Table) -> str:
    """A plain-text table: the title, then aligned columns (values with their n)."""
    grid = [table.headers()] + [[row.label] + [c.text() for c in row.cells] for row in table.rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]
    lines = [table.title]
    for line in grid:
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def summary_text(summary: Mapping[str, Any]) -> str:
    """Every task's tables from a run's ``summary.json``."""
    config = summary.get("config") or {}
    model = str(config.get("model", "model"))
    parts = []
    empty = summary.get("empty") or {}
    for task in task_order(summary["tasks"], config):
        rows = summary["tasks"][task]
        parts.append(f"== {task}")
        if not rows:
            why = empty.get(task)
            parts.append(f"(no results: {why})\n" if why else "(no results)\n")
            continue
        out = task_output(task)
        if out is not None and out.console is not None:  # the task's own terminal layout
            parts.append(out.console(rows) + "\n")
            continue
        tables = task_tables(task, [{**r, MODEL: model} for r in rows], [model])
        parts += [table_text(t) + "\n" for t in tables] or ["(no results: no table for these rows)\n"]
    return "\n".join(parts)


def print_summary(summary: Mapping[str, Any]) -> None:
    """The summary on stdout, the failures on stderr."""
    click.echo("\n" + summary_text(summary))
    left = summary.get("left_out") or {}
    if left.get("queries"):
        from harness.context import LeftOut

        click.echo(f"note: {LeftOut(**left).message()}", err=True)
    failures = summary.get("failures") or {}
    if failures:
        click.echo("\nfailures (also in summary.json and the shards' done markers):", err=True)
        for what, f in failures.items():
            click.echo(f"  {what}: {f['facts']} of {f['of']} facts; first: {f['first']}", err=True)
