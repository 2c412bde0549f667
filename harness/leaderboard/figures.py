"""Leaderboard figures (matplotlib, Agg canvas, no pyplot state): PNG files.

- ``layer-distribution.png`` (paper Fig. 4): the share of LAKNs per layer, one line per
  localizer, one panel per model;
- ``delta-p.png`` (paper Fig. 5): mean ΔP per language, grouped bars (one bar per
  localizer), enhance and suppress panels, one row of panels per model;
- ``delta-p-vs-k.png`` (ours, ``suppress-enhance-k``): ΔP against the budget k, one line per
  localizer with 95 % intervals;
- ``low-resource.png`` (paper Fig. 6, when the runs have ``enhance-low-resource``): accuracy
  on Q_error per language with the LAKNs enhanced, the same layout.

:data:`FIGURES` maps a task to its figure builders, ``builder(rows, models) -> Figure``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.leaderboard.sources import MODEL, row_localizer, write_file
from harness.leaderboard.tables import ABLATION, language_order, localizer_label, localizer_order, overall

DPI = 110
# One colour per localizer across every figure; others take the remaining tab10 colours.
COLORS = {"random": "#7f7f7f", "amig": "#1f77b4", "matrice": "#d62728",
          "matrice-no-uaq": "#ff7f0e", "matrice-no-ual": "#2ca02c"}
_SPARE = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def color(name: str, others: Sequence[str]) -> str:
    if name in COLORS:
        return COLORS[name]
    extra = [n for n in others if n not in COLORS]
    return _SPARE[extra.index(name) % len(_SPARE)] if name in extra else _SPARE[0]


@dataclass(frozen=True)
class FigureSpec:
    id: str  # file stem
    title: str  # alt text and caption
    draw: Callable[[Sequence[dict], Sequence[str]], Figure | None]


def _finite(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return None
    return float(v)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def layer_distribution(rows: Sequence[dict], models: Sequence[str]) -> Figure | None:
    present = [m for m in models if any(r[MODEL] == m for r in rows)]
    if not present:
        return None
    locs = localizer_order([row_localizer(r) or "" for r in rows])
    fig = _new_figure(max(4.8 * len(present), 6.0), 3.8)
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax, model in zip(axes, present, strict=True):
        for loc in locs:
            xs, ys = [], []
            for r in sorted((r for r in rows if r[MODEL] == model and row_localizer(r) == loc),
                            key=lambda r: int(r["layer"])):
                if (share := _finite(r.get("share"))) is not None:
                    xs.append(int(r["layer"]))
                    ys.append(100 * share)
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, label=localizer_label(loc),
                        color=color(loc, locs))
        ax.set_title(model)
        ax.set_xlabel("layer")
        ax.set_ylabel("share of LAKNs (%)")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper")
    return fig


def grouped_bars(rows: Sequence[dict], models: Sequence[str],
                 panels: Sequence[tuple[str, str]], ylabel: str) -> Figure | None:
    """Bars per language, one per localizer; one row of panels per model, one panel per
    (record field, title), values ×100."""
    rows = overall(rows)
    present = [m for m in models if any(r[MODEL] == m for r in rows)]
    if not present:
        return None
    # the figures compare localizers; the ablation variants are in the tables and Table II
    locs = [n for n in localizer_order([row_localizer(r) or "" for r in rows]) if n not in ABLATION[1:]]
    fig = _new_figure(5.5 * len(panels) + 1.5, 3.4 * len(present) + 0.4)
    axes = fig.subplots(len(present), len(panels), squeeze=False)
    width = 0.8 / max(len(locs), 1)
    for i, model in enumerate(present):
        mrows = [r for r in rows if r[MODEL] == model]
        langs = language_order([str(r["language"]) for r in mrows])
        for j, (key, name) in enumerate(panels):
            ax = axes[i][j]
            for k, loc in enumerate(locs):
                by = {r["language"]: _finite(r.get(key)) for r in mrows if row_localizer(r) == loc}
                xs = [x + (k - (len(locs) - 1) / 2) * width for x in range(len(langs))]
                ys = [100 * v if (v := by.get(lang)) is not None else math.nan for lang in langs]
                ax.bar(xs, ys, width, label=localizer_label(loc), color=color(loc, locs))
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_xticks(range(len(langs)), langs)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{model}: {name}" if len(present) > 1 else name)
            ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper")
    return fig


def delta_p(rows: Sequence[dict], models: Sequence[str]) -> Figure | None:
    return grouped_bars(rows, models, (("dp_enhance", "enhance"), ("dp_suppress", "suppress")),
                        "ΔP (%)")


def delta_p_vs_k(rows: Sequence[dict], models: Sequence[str]) -> Figure | None:
    """ΔP against the budget k (log scale), one line per localizer with its 95 % interval as
    error bars; suppress and enhance panels, one row per model."""
    rows = [r for r in rows if isinstance(r.get("k"), int)]
    present = [m for m in models if any(r[MODEL] == m for r in rows)]
    if not present:
        return None
    locs = localizer_order([row_localizer(r) or "" for r in rows])
    panels = (("dp_suppress", "suppressed"), ("dp_enhance", "enhanced"))
    fig = _new_figure(5.2 * len(panels) + 1.5, 3.4 * len(present) + 0.4)
    axes = fig.subplots(len(present), len(panels), squeeze=False)
    for i, model in enumerate(present):
        for j, (key, name) in enumerate(panels):
            ax = axes[i][j]
            for n, loc in enumerate(locs):
                pts = sorted((r["k"], _finite(r.get(key)), _finite(r.get(f"{key}_ci_low")),
                              _finite(r.get(f"{key}_ci_high")))
                             for r in rows if r[MODEL] == model and row_localizer(r) == loc)
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                xs = [k * (1 + 0.03 * (n - (len(locs) - 1) / 2)) for k, *_ in pts]  # dodge
                ys = [100 * v for _, v, _, _ in pts]
                err = [[100 * (v - lo) if lo is not None else 0 for _, v, lo, _ in pts],
                       [100 * (hi - v) if hi is not None else 0 for _, v, _, hi in pts]]
                ax.errorbar(xs, ys, yerr=err, marker="o", markersize=3, capsize=2,
                            label=localizer_label(loc), color=color(loc, locs))
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_xscale("log", base=2)
            ks = sorted({r["k"] for r in rows if r[MODEL] == model})
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
            ax.set_xlabel("k (neurons, top-k by the localizer's own scores)")
            ax.set_ylabel("ΔP (%)")
            ax.set_title(f"{model}: {name}" if len(present) > 1 else f"LAKNs {name}")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper")
    return fig


def low_resource(rows: Sequence[dict], models: Sequence[str]) -> Figure | None:
    return grouped_bars(rows, models, (("accuracy", "accuracy on Q_error"),), "accuracy (%)")


FIGURES: dict[str, list[FigureSpec]] = {
    "layer-distribution": [FigureSpec(
        "layer-distribution", "Share of LAKNs per layer, per localizer and model (Fig. 4)",
        layer_distribution)],
    "suppress-enhance": [FigureSpec(
        "delta-p", "Mean ΔP per language when the LAKNs are enhanced or suppressed (Fig. 5)",
        delta_p)],
    "suppress-enhance-k": [FigureSpec(
        "delta-p-vs-k", "ΔP against the number of neurons k (each localizer's top k, Random: k random "
        "neurons), with 95% intervals over facts", delta_p_vs_k)],
    "enhance-low-resource": [FigureSpec(
        "low-resource", "Accuracy on Q_error per low-resource language with the LAKNs enhanced "
        "(Fig. 6)", low_resource)],
}


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def build_figures(rows_by_task: dict[str, list[dict]], models: Sequence[str],
                  folder: Path) -> list[tuple[FigureSpec, Path]]:
    """Draw every figure whose task has rows; returns (spec, path) pairs."""
    out = []
    for task, specs in FIGURES.items():
        rows = rows_by_task.get(task)
        if not rows:
            continue
        for spec in specs:
            fig = spec.draw(rows, models)
            if fig is None:
                continue
            path = folder / f"{spec.id}.png"
            write_file(path, png_bytes(fig))
            out.append((spec, path))
    return out
