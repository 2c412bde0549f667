"""Leaderboard figures (matplotlib, Agg canvas, no pyplot state): PNG files.

A task declares its figures (:class:`harness.tasks.output.Figure`) next to its row type; this
module draws the two kinds:

- ``lines``: one line per localizer over a numeric field, one panel per model (the layer
  distribution, paper Fig. 4);
- ``bars``: bars per value of a field (the languages), one bar per localizer, one panel per
  metric and one row of panels per model (ΔP, Fig. 5; low-resource accuracy, Fig. 6).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.leaderboard.sources import MODEL, row_localizer
from harness.leaderboard.tables import column_order, localizer_label, localizer_order, task_output
from harness.tasks.output import Figure as FigureSpec
from rml_lama.atomic import atomic_write

DPI = 110
# One colour per localizer across every figure; others take the remaining tab10 colours.
COLORS = {
    "random": "#7f7f7f",
    "amig": "#1f77b4",
    "matrice": "#d62728",
    "matrice-no-uaq": "#ff7f0e",
    "matrice-no-ual": "#2ca02c",
}
_SPARE = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def color(name: str, others: Sequence[str]) -> str:
    if name in COLORS:
        return COLORS[name]
    extra = [n for n in others if n not in COLORS]
    return _SPARE[extra.index(name) % len(_SPARE)] if name in extra else _SPARE[0]


def _finite(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return None
    return float(v)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def lines(spec: FigureSpec, rows: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """One line per localizer over ``spec.x`` (numeric; other rows, e.g. a budget curve's
    "area", are left out), one panel per (field, title) of ``spec.panels`` and one row of
    panels per model; the 95 % interval (``<field>_ci_low/_ci_high``) as error bars."""
    rows = [r for r in rows if _finite(r.get(spec.x)) is not None]
    present = [m for m in models if any(r[MODEL] == m for r in rows)]
    if not present:
        return None
    locs = [n for n in localizer_order([row_localizer(r) or "" for r in rows]) if n not in spec.exclude]
    panels = spec.panels
    if len(panels) == 1:
        fig = _new_figure(max(4.8 * len(present), 6.0), 3.8)
        grid = [[ax] for ax in fig.subplots(1, len(present), squeeze=False)[0]]
    else:
        fig = _new_figure(5.2 * len(panels) + 1.5, 3.4 * len(present) + 0.4)
        grid = [list(row) for row in fig.subplots(len(present), len(panels), squeeze=False)]
    for model, axes in zip(present, grid, strict=True):
        for ax, (key, name) in zip(axes, panels, strict=True):
            for i, loc in enumerate(locs):
                pts = sorted(
                    (r for r in rows if r[MODEL] == model and row_localizer(r) == loc),
                    key=lambda r: r[spec.x],
                )
                pts = [r for r in pts if _finite(r.get(key)) is not None]
                if not pts:
                    continue
                dodge = 1 + 0.03 * (i - (len(locs) - 1) / 2) if spec.log_x else 1  # error bars apart
                xs = [r[spec.x] * dodge for r in pts]
                ys = [100 * r[key] for r in pts]
                lo = [_finite(r.get(f"{key}_ci_low")) for r in pts]
                hi = [_finite(r.get(f"{key}_ci_high")) for r in pts]
                style = dict(marker="o", markersize=3, label=localizer_label(loc), color=color(loc, locs))
                if any(v is not None for v in lo + hi):
                    err = [
                        [y - 100 * v if v is not None else 0 for y, v in zip(ys, lo, strict=True)],
                        [100 * v - y if v is not None else 0 for y, v in zip(ys, hi, strict=True)],
                    ]
                    ax.errorbar(xs, ys, yerr=err, capsize=2, **style)
                else:
                    ax.plot(xs, ys, **style)
            if spec.log_x:
                ticks = sorted({r[spec.x] for r in rows if r[MODEL] == model})
                ax.set_xscale("log", base=2)
                ax.set_xticks(ticks, [str(t) for t in ticks])
                ax.minorticks_off()
                ax.axhline(0, color="black", linewidth=0.6)
            else:
                ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_title(model if len(panels) == 1 else (f"{model}: {name}" if len(present) > 1 else name))
            ax.set_xlabel(spec.xlabel or spec.x)
            ax.set_ylabel(spec.ylabel)
            ax.grid(alpha=0.3)
    handles, labels = grid[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper")
    return fig


def bars(spec: FigureSpec, rows: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """Bars per value of ``spec.x``, one per localizer; one row of panels per model, one
    panel per (field, title) of ``spec.panels``, values ×100; the 95 % interval
    (``<field>_ci_low/_ci_high``) as error bars where the rows have one."""
    present = [m for m in models if any(r[MODEL] == m for r in rows)]
    if not present:
        return None
    locs = [n for n in localizer_order([row_localizer(r) or "" for r in rows]) if n not in spec.exclude]
    panels = spec.panels
    fig = _new_figure(5.5 * len(panels) + 1.5, 3.4 * len(present) + 0.4)
    axes = fig.subplots(len(present), len(panels), squeeze=False)
    width = 0.8 / max(len(locs), 1)
    for i, model in enumerate(present):
        mrows = [r for r in rows if r[MODEL] == model]
        xs_all = column_order([r[spec.x] for r in mrows])
        for j, (key, name) in enumerate(panels):
            ax = axes[i][j]
            for k, loc in enumerate(locs):
                mine = {r[spec.x]: r for r in mrows if row_localizer(r) == loc}
                xs = [x + (k - (len(locs) - 1) / 2) * width for x in range(len(xs_all))]

                def at(x: Any, suffix: str = "", key: str = key, mine: dict = mine) -> float:
                    v = _finite(mine[x].get(key + suffix)) if x in mine else None
                    return 100 * v if v is not None else math.nan

                ys = [at(x) for x in xs_all]
                lo, hi = [at(x, "_ci_low") for x in xs_all], [at(x, "_ci_high") for x in xs_all]
                err = None
                if any(not math.isnan(v) for v in lo + hi):  # NaN bounds draw no bar
                    err = [
                        [y - v for y, v in zip(ys, lo, strict=True)],
                        [v - y for y, v in zip(ys, hi, strict=True)],
                    ]
                ax.bar(xs, ys, width, yerr=err, capsize=2, label=localizer_label(loc), color=color(loc, locs))
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_xticks(range(len(xs_all)), [str(x) for x in xs_all])
            ax.set_ylabel(spec.ylabel)
            ax.set_title(f"{model}: {name}" if len(present) > 1 else name)
            ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper")
    return fig


DRAW = {"lines": lines, "bars": bars}


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def task_figures(
    task: str, rows: Sequence[Mapping[str, Any]], models: Sequence[str]
) -> list[tuple[FigureSpec, Figure]]:
    """The figures the task declares, drawn from its summary rows (tagged with ``_model``)."""
    out = task_output(task)
    if out is None or not rows:
        return []
    shown = out.shown(rows)
    drawn = [(spec, DRAW[spec.kind](spec, shown, models)) for spec in out.figures]
    return [(spec, fig) for spec, fig in drawn if fig is not None]


def build_figures(
    rows_by_task: Mapping[str, Sequence[Mapping[str, Any]]], models: Sequence[str], folder: Path
) -> list[tuple[FigureSpec, Path]]:
    """Draw every figure that the tasks with rows declare; returns (spec, path) pairs."""
    out = []
    for task, rows in rows_by_task.items():
        for spec, fig in task_figures(task, rows, models):
            path = folder / f"{spec.id}.png"
            atomic_write(path, png_bytes(fig))
            out.append((spec, path))
    return out
