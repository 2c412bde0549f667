"""Leaderboard tables in the paper's layout, as Markdown and CSV.

Every table is made from what a task declares (:class:`harness.tasks.output.Output`, read
from the registry): rows are localizers (in the paper's order); the columns are the values
of one row field, e.g. the languages, one table per metric (``columns="language"``), or the
metrics themselves (``columns=None``, one table), with one column group per model. A cell
holds a value and, where the metric names one, the count behind it (``n``). A task that is
not registered here (a submission of a plugin task that is not installed) gets no table and
a warning. Rates are fractions in [0, 1].
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from harness.leaderboard.sources import LOCALIZER_STATS, MODEL, row_localizer
from harness.tasks.output import Count, Metric, Output
from rml_lama import LANGUAGE_CODES
from rml_lama.atomic import atomic_write

log = logging.getLogger(__name__)

# Display names and the row order of the paper (baselines, AMIG, MATRICE, then the ablations).
LOCALIZER_LABELS = {
    "direct-ft": "Direct_FT",  # inject: fine-tuning every parameter
    "random": "Random",
    "amig": "AMIG",
    "matrice": "MATRICE",
    "matrice-no-uaq": "w/o UaQ",
    "matrice-no-ual": "w/o UaL",
}


def localizer_label(name: str) -> str:
    return LOCALIZER_LABELS.get(name, name)


def localizer_order(names: Sequence[str]) -> list[str]:
    known = list(LOCALIZER_LABELS)
    return sorted(dict.fromkeys(names), key=lambda n: (known.index(n) if n in known else len(known), n))


def column_order(values: Sequence[Any]) -> list[Any]:
    """Numbers ascending, then languages in the paper's order, then other values sorted
    (budgets 5, 10, 20, 50, then their "area")."""
    values = list(dict.fromkeys(values))
    numbers = sorted(v for v in values if isinstance(v, int) and not isinstance(v, bool))
    known = list(LANGUAGE_CODES)
    rest = [v for v in values if not (isinstance(v, int) and not isinstance(v, bool))]
    return numbers + sorted(rest, key=lambda c: (known.index(c) if c in known else len(known), str(c)))


def language_order(codes: Sequence[str]) -> list[str]:
    return column_order(codes)


# -- values --------------------------------------------------------------------------------

FORMATS: dict[str, Callable[[float], str]] = {
    "pct_change": lambda v: f"{100 * v:+.1f}%",  # ΔP, Eq. 14
    "rate": lambda v: f"{100 * v:.1f}%",  # accuracies and shares in [0, 1]
    "ratio": lambda v: f"{v:.3f}",  # normalized to a reference = 1.000
    "num": lambda v: f"{v:.3g}",
    "int": lambda v: f"{v:.0f}",
}


def _number(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return None if math.isnan(v) else float(v)


@dataclass(frozen=True)
class Cell:
    value: float | None  # None: missing or NaN
    n: int | None = None  # queries (or facts) behind the value
    fmt: str = "num"
    low: float | None = None  # its 95 % interval, where the task gives one
    high: float | None = None
    mark: str = ""  # "*": beats the localizer's own Random at 5 % (paired test)
    facts: int | None = None  # facts behind the value, where the task counts them

    def text(self, with_n: bool = True) -> str:
        if self.value is None:
            return "–"
        f = FORMATS[self.fmt]
        s = f(self.value) + self.mark
        if self.low is not None and self.high is not None:
            s += f" [{f(self.low)}, {f(self.high)}]"
        if with_n and self.n is not None:
            return f"{s} (n={self.facts}/{self.n})" if self.facts is not None else f"{s} (n={self.n})"
        return s


def beats_random(row: Mapping[str, Any], key: str, better: str | None, alpha: float = 0.05) -> str:
    """``"*"`` when the paired test against the localizer's own Random (``p_<key>``) is
    significant and the value is on the ``better`` side of Random's (``random_<key>``)."""
    p, own, rnd = _number(row.get(f"p_{key}")), _number(row.get(key)), _number(row.get(f"random_{key}"))
    if better is None or p is None or own is None or rnd is None or p >= alpha:
        return ""
    return "*" if (own < rnd if better == "lower" else own > rnd) else ""


def metric_cell(rows: Sequence[Mapping[str, Any]], m: Metric) -> Cell:
    """The cell of metric ``m`` from the rows of one cell (normally one): with its interval,
    facts and mark against Random when it is one row and the metric declares them."""
    value, n = _aggregate(rows, m.field, m.n)
    if len(rows) != 1 or value is None:
        return Cell(value, n, m.fmt)
    r = rows[0]
    low, high = (
        (_number(r.get(f"{m.field}_ci_low")), _number(r.get(f"{m.field}_ci_high"))) if m.ci else (None, None)
    )
    facts = _count(r.get(m.facts)) if m.facts else None
    return Cell(value, n, m.fmt, low, high, beats_random(r, m.field, m.better), facts)


@dataclass(frozen=True)
class Column:
    key: str  # CSV header: "model:label"
    label: str  # the header shown
    group: str  # column group: the model


@dataclass(frozen=True)
class Row:
    key: str  # localizer name
    label: str  # its display name
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Table:
    id: str  # file stem and HTML id
    title: str
    caption: str
    columns: tuple[Column, ...]  # after the localizer column
    rows: tuple[Row, ...]
    has_n: bool = False  # cells carry counts (CSV gets a "...:n" column each)
    row_header: str = "Localizer"

    @property
    def groups(self) -> list[tuple[str, int]]:
        """(model, number of columns) in order."""
        out: list[tuple[str, int]] = []
        for c in self.columns:
            if out and out[-1][0] == c.group:
                out[-1] = (c.group, out[-1][1] + 1)
            else:
                out.append((c.group, 1))
        return out

    def headers(self) -> list[str]:
        """Leaf headers, model-prefixed when there are several models."""
        multi = len(self.groups) > 1
        return [self.row_header] + [f"{c.group} {c.label}" if multi else c.label for c in self.columns]


# -- builders ------------------------------------------------------------------------------


class _LocalizerStatsRequired(TypedDict):
    localizer: str
    facts: Count
    mean_neurons: float  # over every fact localized, the empty sets included


class LocalizerStatsRow(_LocalizerStatsRequired, total=False):
    no_neurons: Count  # facts where the localizer selected nothing (runs before it: absent)


# Not a task: the run summary's per-localizer neuron counts, tabulated like one.
LOCALIZER_STATS_OUTPUT = Output(
    row=LocalizerStatsRow,
    metrics=(
        Metric("facts", "facts", "int"),
        Metric("mean_neurons", "neurons/fact", "num"),
        Metric("no_neurons", "no neurons", "int"),
    ),
    columns=None,
    title="Neurons per fact",
    caption="Facts localized, the mean number of LAKNs per fact, and the facts where the localizer "
    "selected none (left out of ΔP, never counted as 0).",
)


def task_output(task: str) -> Output | None:
    """What the registered task ``task`` declares, or None when it is not registered here."""
    from harness import registry

    if task == LOCALIZER_STATS:
        return LOCALIZER_STATS_OUTPUT
    try:
        obj = registry.get("task", task)
    except registry.RegistryError:
        return None
    out = getattr(obj, "output", None)
    return out if isinstance(out, Output) else None


def _aggregate(
    rows: Sequence[Mapping[str, Any]], key: str, n_key: str | None
) -> tuple[float | None, int | None]:
    """One value from the rows of one cell (normally exactly one row): their mean, weighted
    by the counts when every row has one; n is the sum of the counts."""
    counts = [_number(r.get(n_key)) if n_key else None for r in rows]
    n = int(sum(c for c in counts if c is not None)) if any(c is not None for c in counts) else None
    pairs = [(v, c) for r, c in zip(rows, counts, strict=True) if (v := _number(r.get(key))) is not None]
    if not pairs:
        return None, n
    if len(pairs) == 1:
        return pairs[0][0], n
    weighted = [(v, c) for v, c in pairs if c is not None and c > 0]
    if len(weighted) == len(pairs):
        return sum(v * c for v, c in weighted) / sum(c for _, c in weighted), n
    return sum(v for v, _ in pairs) / len(pairs), n


def _mean_cell(cells: Sequence[Cell], fmt: str) -> Cell:
    """The unweighted mean over the cells present; n is the sum of their counts."""
    present = [c.value for c in cells if c.value is not None]
    ns = [c.n for c in cells if c.value is not None and c.n is not None]
    return Cell(sum(present) / len(present) if present else None, sum(ns) if ns else None, fmt)


def _table_id(prefix: str, metric: Metric) -> str:
    return f"{prefix}-{metric.slug}" if metric.slug else prefix


def per_column(
    task: str, out: Output, rows: Sequence[Mapping[str, Any]], models: Sequence[str]
) -> list[Table]:
    """``columns="<field>"``: one table per metric, localizers × the field's values (+ the
    unweighted mean over them when ``average``), one column group per model."""
    assert out.columns is not None
    field = out.columns
    rows = [r for r in rows if row_localizer(r) is not None and r.get(field) is not None]
    tables = []
    for m in out.metrics:
        cells: dict[tuple[str, str, Any], list[Mapping[str, Any]]] = defaultdict(list)
        for r in rows:
            if m.field in r:
                cells[(r[MODEL], row_localizer(r) or "", r[field])].append(r)
        if not cells:
            continue
        # per model: [(value, header)] in column order
        cols: dict[str, list[tuple[Any, str]]] = {}
        for model in models:
            present = column_order([k[2] for k in cells if k[0] == model])
            if present:
                first = {k[2]: rs[0] for k, rs in cells.items() if k[0] == model}
                cols[model] = [(v, out.label(first[v])) for v in present]
        with_avg = {
            model: out.average and len(vs) > 1 and not any(v == out.pooled for v, _ in vs)
            for model, vs in cols.items()
        }
        columns = []
        for model, vs in cols.items():
            columns += [Column(f"{model}:{h}", h, model) for _, h in vs]
            if with_avg[model]:
                columns.append(Column(f"{model}:avg", "avg", model))
        out_rows = []
        for loc in localizer_order([k[1] for k in cells]):
            row_cells: list[Cell] = []
            for model, vs in cols.items():
                got = [metric_cell(cells.get((model, loc, v), []), m) for v, _ in vs]
                row_cells += got
                if with_avg[model]:
                    row_cells.append(_mean_cell(got, m.fmt))
            out_rows.append(Row(loc, localizer_label(loc), tuple(row_cells)))
        caption = m.caption + (
            f" The avg column is the unweighted mean over the {field} columns."
            if any(with_avg.values())
            else ""
        )
        tables.append(
            Table(
                _table_id(out.prefix or task, m),
                m.title,
                caption.strip(),
                tuple(columns),
                tuple(out_rows),
                has_n=m.n is not None,
                row_header=out.row_header,
            )
        )
    return tables


def per_metric(
    task: str, out: Output, rows: Sequence[Mapping[str, Any]], models: Sequence[str]
) -> list[Table]:
    """``columns=None``: one table, localizers × the metrics, one column group per model."""
    by = {(r[MODEL], row_localizer(r)): r for r in rows if row_localizer(r) is not None}
    present = [model for model in models if any(k[0] == model for k in by)]
    columns = tuple(Column(f"{model}:{m.title}", m.title, model) for model in present for m in out.metrics)
    out_rows = []
    for loc in localizer_order([k[1] for k in by if k[1]]):
        cells = []
        for model in present:
            r = by.get((model, loc), {})
            cells += [metric_cell([r], m) if r else Cell(None, None, m.fmt) for m in out.metrics]
        out_rows.append(Row(loc, localizer_label(loc), tuple(cells)))
    return [
        Table(
            out.prefix or task,
            out.title or task,
            out.caption,
            columns,
            tuple(out_rows),
            has_n=any(m.n for m in out.metrics),
            row_header=out.row_header,
        )
    ]


def _count(v: object) -> int | None:
    n = _number(v)
    return None if n is None else int(n)


def task_tables(task: str, rows: Sequence[Mapping[str, Any]], models: Sequence[str]) -> list[Table]:
    """The tables of one task's summary rows (tagged with ``_model``), as its output declares."""
    out = task_output(task)
    if out is None:
        log.warning("task %s is not registered here (a plugin not installed?): no table", task)
        return []
    build = per_column if out.columns is not None else per_metric
    return [t for t in build(task, out, out.shown(rows), models) if t.rows]


def build_tables(
    rows_by_task: Mapping[str, Sequence[Mapping[str, Any]]], models: Sequence[str]
) -> list[Table]:
    """Every table the rows allow, task by task (the neuron counts last)."""
    order = [t for t in rows_by_task if t != LOCALIZER_STATS] + [LOCALIZER_STATS]
    out: list[Table] = []
    for task in order:
        rows = rows_by_task.get(task)
        if rows:
            out += task_tables(task, rows, models)
    return out


# -- writers -------------------------------------------------------------------------------


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def to_markdown(table: Table) -> str:
    groups = table.groups
    lines = [f"### {table.title}", ""]
    note = table.caption
    if len(groups) == 1:
        note = f"Model: {groups[0][0]}. {note}"
    if note:
        lines += [note.strip(), ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in table.headers()) + " |")
    lines.append("|---|" + "---:|" * len(table.columns))
    for row in table.rows:
        lines.append("| " + " | ".join([_md_escape(row.label)] + [c.text() for c in row.cells]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Raw numbers (round-trip precision), empty for missing; counts in ``<column>:n``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["localizer"]
    for col in table.columns:
        head += [col.key, f"{col.key}:n"] if table.has_n else [col.key]
    w.writerow(head)
    for row in table.rows:
        line = [row.key]
        for cell in row.cells:
            line.append("" if cell.value is None else repr(cell.value))
            if table.has_n:
                line.append("" if cell.n is None else str(cell.n))
        w.writerow(line)
    return buf.getvalue()


def write_tables(tables: Sequence[Table], folder: Path) -> list[Path]:
    paths = []
    for t in tables:
        for ext, text in (("md", to_markdown(t)), ("csv", to_csv(t))):
            path = folder / f"{t.id}.{ext}"
            atomic_write(path, text)
            paths.append(path)
    return paths
