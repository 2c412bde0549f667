"""Leaderboard tables in the paper's layout, as Markdown and CSV.

Each task maps to a builder in :data:`TABLES`: ``builder(rows, models) -> [Table, ...]``,
where ``rows`` are the task's summary rows from every source, tagged with ``model``. Rows are
localizers; columns are languages (or layers, or metrics), one column group per model. A
cell holds a value and, where the task has it, the number of queries behind it.

Adding a task is a few lines::

    TABLES["my-task"] = per_language("my-task", [Metric(("accuracy",), "acc", "Accuracy", "rate")])

A task with no builder whose rows have a localizer and a language gets one table per
numeric field; any other is skipped with a warning.

What :func:`per_language` reads from a summary row (see ``docs/tasks.md``): the localizer
(``localizer``, or ``method``), the language (``language``, or ``target``; ``avg``/``all``
marks the task's own average, used for the avg column instead of the mean over languages),
the metric's field and its count (:class:`Metric` ``keys`` and ``n_keys``), ``edit_language``
for the en→x headers of the edit tasks, and ``relation``: when some rows have
``relation: "all"``, only those are read (the others are per relation). Rates are fractions
in [0, 1].
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.leaderboard.sources import LOCALIZER_STATS, MODEL, row_localizer, write_file
from rml_lama import LANGUAGE_CODES

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
ABLATION = ("matrice", "matrice-no-uaq", "matrice-no-ual")
N_KEYS = ("queries", "n", "facts")  # the count shown next to a value, first present
LANGUAGE_KEYS = ("language", "target", "lang")
AVERAGES = ("avg", "average", "all", "mean")  # a row's "language" when the task averaged itself


def localizer_label(name: str) -> str:
    return LOCALIZER_LABELS.get(name, name)


def localizer_order(names: Sequence[str]) -> list[str]:
    known = list(LOCALIZER_LABELS)
    return sorted(dict.fromkeys(names), key=lambda n: (known.index(n) if n in known else len(known), n))


def language_order(codes: Sequence[str]) -> list[str]:
    known = list(LANGUAGE_CODES)
    return sorted(dict.fromkeys(codes), key=lambda c: (known.index(c) if c in known else len(known), c))


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
        s = FORMATS[self.fmt](self.value) + self.mark
        if self.low is not None and self.high is not None:
            f = FORMATS[self.fmt]
            s += f" [{f(self.low)}, {f(self.high)}]"
        if with_n and self.n is not None:
            return f"{s} (n={self.facts}/{self.n})" if self.facts is not None else f"{s} (n={self.n})"
        return s


def interval(row: dict, key: str) -> tuple[float | None, float | None]:
    """``(low, high)`` from ``<key>_ci_low``/``<key>_ci_high``, None where absent or NaN."""
    return _number(row.get(f"{key}_ci_low")), _number(row.get(f"{key}_ci_high"))


def beats_random(row: dict, key: str, alpha: float = 0.05) -> str:
    """``"*"`` when the paired test against the localizer's own Random (``p_<key>``) is
    significant and the value is on the better side of Random's (lower for suppress)."""
    p, own, rnd = _number(row.get(f"p_{key}")), _number(row.get(key)), _number(row.get(f"random_{key}"))
    if p is None or own is None or rnd is None or p >= alpha:
        return ""
    return "*" if (own < rnd if "suppress" in key else own > rnd) else ""


def cell_of(rows: Sequence[dict], key: str, n_key: str | None, fmt: str) -> Cell:
    """A cell from the rows of one cell: with its interval, mark and facts when it is one row."""
    value, n = _aggregate(rows, key, n_key)
    if len(rows) != 1 or value is None:
        return Cell(value, n, fmt)
    low, high = interval(rows[0], key)
    facts = rows[0].get("facts") if isinstance(rows[0].get("facts"), int) and n_key != "facts" else None
    return Cell(value, n, fmt, low, high, beats_random(rows[0], key), facts)


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

Builder = Callable[[Sequence[dict], Sequence[str]], list[Table]]


@dataclass(frozen=True)
class Metric:
    keys: tuple[str, ...]  # record fields, first present wins
    slug: str  # table id suffix
    title: str
    fmt: str = "num"
    caption: str = ""
    n_keys: tuple[str, ...] = N_KEYS  # the count shown next to a value, first present


def _first_key(rows: Sequence[dict], keys: Sequence[str]) -> str | None:
    return next((k for k in keys if any(k in r for r in rows)), None)


def _aggregate(rows: Sequence[dict], key: str, n_key: str | None) -> tuple[float | None, int | None]:
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


def overall(rows: Sequence[dict]) -> list[dict]:
    """Rows over all relations: a task that also summarizes per relation marks its overall
    rows ``relation: "all"`` (enhance-low-resource); the per-relation rows are left out."""
    if any(r.get("relation") == "all" for r in rows):
        return [r for r in rows if r.get("relation") == "all"]
    return list(rows)


def _language(row: dict) -> str | None:
    for k in LANGUAGE_KEYS:
        if row.get(k) is not None:
            return str(row[k])
    return None


def plain_language(row: dict, lang: str) -> str:
    return lang


def cross_lingual(row: dict, lang: str) -> str:
    """Edits made in one language and tested in ``lang``: ``en→zh``."""
    return f"{row.get('edit_language', row.get('source', 'en'))}→{lang}"


def _mean_cell(cells: Sequence[Cell], fmt: str) -> Cell:
    """The unweighted mean over the cells present; n is the sum of their counts."""
    present = [c.value for c in cells if c.value is not None]
    ns = [c.n for c in cells if c.value is not None and c.n is not None]
    return Cell(sum(present) / len(present) if present else None, sum(ns) if ns else None, fmt)


def per_language(
    task: str,
    metrics: Sequence[Metric],
    header: Callable[[dict, str], str] = plain_language,
    average: bool = True,
    row_header: str = "Localizer",
) -> Builder:
    """Rows localizer × columns language (+ the mean over languages), one table per metric
    present in the records, one column group per model."""

    def build(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
        rows = [r for r in overall(rows) if row_localizer(r) is not None and _language(r) is not None]
        tables = []
        for m in metrics:
            key = _first_key(rows, m.keys)
            if key is None:
                continue
            n_key = _first_key(rows, m.n_keys)
            cells: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
            for r in rows:
                if key in r:
                    cells[(r[MODEL], row_localizer(r) or "", _language(r) or "")].append(r)
            # per model: [(language, header)] in the paper's language order
            langs: dict[str, list[tuple[str, str]]] = {}
            for model in models:
                present = language_order([k[2] for k in cells if k[0] == model and k[2] not in AVERAGES])
                if present:
                    first = {k[2]: rs[0] for k, rs in cells.items() if k[0] == model}
                    langs[model] = [(lang, header(first[lang], lang)) for lang in present]
            own_avg = {model: next((a for a in AVERAGES if any(k[0] == model and k[2] == a for k in cells)),
                                   None) for model in langs}
            with_avg = {model: own_avg[model] is not None or (average and len(ls) > 1)
                        for model, ls in langs.items()}
            columns = []
            for model, ls in langs.items():
                columns += [Column(f"{model}:{h}", h, model) for _, h in ls]
                if with_avg[model]:
                    columns.append(Column(f"{model}:avg", "avg", model))
            out_rows = []
            for loc in localizer_order([k[1] for k in cells]):
                row_cells: list[Cell] = []
                for model, ls in langs.items():
                    got = [cell_of(cells.get((model, loc, lang), []), key, n_key, m.fmt) for lang, _ in ls]
                    row_cells += got
                    if own_avg[model] is not None:  # the task's own average row
                        avg_rows = cells.get((model, loc, own_avg[model] or ""), [])
                        row_cells.append(cell_of(avg_rows, key, n_key, m.fmt))
                    elif with_avg[model]:
                        row_cells.append(_mean_cell(got, m.fmt))
                out_rows.append(Row(loc, localizer_label(loc), tuple(row_cells)))
            computed = any(with_avg[x] and own_avg[x] is None for x in langs)
            caption = m.caption + (" The avg column is the unweighted mean over the languages."
                                   if computed else "")
            tables.append(Table(f"{task}-{m.slug}", m.title, caption.strip(), tuple(columns),
                                tuple(out_rows), has_n=n_key is not None, row_header=row_header))
        return tables

    return build


def ablation_table(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
    """Table II: MATRICE / w/o UaQ / w/o UaL × Enhance / Suppress / Average, MATRICE = 1.000."""
    by = {(r[MODEL], row_localizer(r)): r for r in rows}
    present = [m for m in models if any(k[0] == m for k in by)]
    labels = ("Enhance", "Suppress", "Average")
    columns = tuple(Column(f"{m}:{label}", label, m) for m in present for label in labels)
    locs = localizer_order([k[1] for k in by if k[1]])
    out, why = [], []
    for loc in locs:
        cells = []
        for m in present:
            r = by.get((m, loc), {})
            n = r.get("queries")
            cells += [Cell(_number(r.get(k)), n, "ratio") for k in ("enhance", "suppress", "average")]
            why += [f"{localizer_label(loc)} {k} ({m}): – because {r[f'why_{k}']}."
                    for k in ("enhance", "suppress") if r.get(f"why_{k}")]
        out.append(Row(loc, localizer_label(loc), tuple(cells)))
    caption = ("Mean ΔP of each variant divided by MATRICE's, per language, averaged over the "
               "languages where MATRICE's ΔP is significantly non-zero in the expected direction "
               "(95% CI over facts); Average is the mean of Enhance and Suppress (MATRICE = 1.000); "
               "n is the number of queries behind the variant. " + " ".join(why))
    return [Table("ablation", "Ablation (Table II)", caption.strip(), columns, tuple(out), has_n=True,
                  row_header="Method")]


def budget_table(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
    """ΔP at fixed budgets: rows localizer, columns k (and the area over log k), per model."""
    tables = []
    for key, name in (("dp_suppress", "suppressed"), ("dp_enhance", "enhanced")):
        by = {(r[MODEL], row_localizer(r), str(r["k"])): r for r in rows if "k" in r}
        columns = []
        for m in models:
            ks = sorted({int(k[2]) for k in by if k[0] == m and k[2] != "area"})
            columns += [Column(f"{m}:k={k}", f"k={k}", m) for k in ks]
            if any(k[0] == m and k[2] == "area" for k in by):
                columns.append(Column(f"{m}:area", "area", m))
        out = []
        for loc in localizer_order([k[1] for k in by if k[1]]):
            cells = []
            for col in columns:
                k = col.label.removeprefix("k=")
                r = by.get((col.group, loc, k))
                cells.append(cell_of([r] if r else [], key, "queries", "pct_change"))
            out.append(Row(loc, localizer_label(loc), tuple(cells)))
        caption = (f"ΔP (Eq. 14) with each localizer's top k neurons by its own scores {name}, "
                   "beside k random neurons; [95% CI over facts]; * beats k random neurons at 5% "
                   "(paired test); n = facts/queries; – where fewer than k neurons are ranked. "
                   "area: the mean over log2 k of the curve.")
        tables.append(Table(f"suppress-enhance-k-{key.removeprefix('dp_')}",
                            f"ΔP at a fixed budget of k neurons, {name}", caption, tuple(columns),
                            tuple(out), has_n=True))
    return tables


def cross_language_table(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
    """Source language (rows, per localizer) × target language (columns) ΔP suppress."""
    rows = [r for r in rows if "source" in r]
    by = {(r[MODEL], row_localizer(r), str(r["source"]), str(r["language"])): r for r in rows}
    columns = []
    for m in models:
        targets = language_order([k[3] for k in by if k[0] == m and k[2] != "all"])
        columns += [Column(f"{m}:{t}", t, m) for t in targets]
        columns += [Column(f"{m}:{t}", f"{t} language", m) for t in ("same", "other")
                    if any(k[0] == m and k[3] == t for k in by)]
    out = []
    for loc in localizer_order([k[1] for k in by if k[1]]):
        for source in language_order([k[2] for k in by if k[1] == loc and k[2] != "all"]):
            cells = []
            for col in columns:
                target = col.key.split(":", 1)[1]
                src = "all" if target in ("same", "other") else source
                r = by.get((col.group, loc, src, target))
                cells.append(cell_of([r] if r else [], "dp_suppress", "queries", "pct_change"))
            out.append(Row(f"{loc}:{source}", f"{localizer_label(loc)} from {source}", tuple(cells)))
    caption = ("ΔP (Eq. 14) when the neurons a localizer finds from one language's queries (rows) "
               "are suppressed, in each language (columns); same/other: pooled over t = s and "
               "t ≠ s (the same for every row of a localizer), [95% CI over facts].")
    return [Table("cross-language", "Cross-language matrix: neurons from one language", caption,
                  tuple(columns), tuple(out), has_n=True, row_header="Localizer, source")]


def layer_table(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
    """Fig. 4 as numbers: the share of each localizer's LAKNs in each layer."""
    by = {(r[MODEL], row_localizer(r), int(r["layer"])): r for r in rows if "layer" in r}
    columns = []
    for m in models:
        layers = sorted({k[2] for k in by if k[0] == m})
        columns += [Column(f"{m}:L{layer}", f"L{layer}", m) for layer in layers]
    out = []
    for loc in localizer_order([k[1] for k in by if k[1]]):
        cells = []
        for col in columns:
            r = by.get((col.group, loc, int(col.label[1:])), {})
            cells.append(Cell(_number(r.get("share")), r.get("neurons"), "rate"))
        out.append(Row(loc, localizer_label(loc), tuple(cells)))
    caption = "Share of the localizer's LAKNs in each layer; n is the number of neurons."
    return [Table("layer-distribution", "Layer distribution of LAKNs (Fig. 4)", caption,
                  tuple(columns), tuple(out), has_n=True)]


def localizer_stats_table(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
    by = {(r[MODEL], row_localizer(r)): r for r in rows}
    present = [m for m in models if any(k[0] == m for k in by)]
    labels = ("facts", "neurons/fact", "no neurons")
    columns = tuple(Column(f"{m}:{label}", label, m) for m in present for label in labels)
    out = []
    for loc in localizer_order([k[1] for k in by if k[1]]):
        cells = []
        for m in present:
            r = by.get((m, loc), {})
            cells += [Cell(_number(r.get("facts")), None, "int"),
                      Cell(_number(r.get("mean_neurons")), None, "num"),
                      Cell(_number(r.get("no_neurons")), None, "int")]
        out.append(Row(loc, localizer_label(loc), tuple(cells)))
    return [Table("localizer-stats", "Neurons per fact", "Facts localized, the mean number of "
                  "LAKNs per fact, and the facts where the localizer selected none (left out of "
                  "ΔP, not counted as 0).", columns, tuple(out))]


def generic_table(task: str) -> Builder:
    """For a task without a builder: one per-language table per numeric field."""
    skip = {"queries", "n", "facts", "query", "layer", "index", "count", "languages"}

    def build(rows: Sequence[dict], models: Sequence[str]) -> list[Table]:
        if not any(row_localizer(r) and _language(r) for r in rows):
            log.warning("task %s: no table builder and no localizer/language rows; skipped", task)
            return []
        fields = [k for k in dict.fromkeys(k for r in rows for k in r)
                  if k not in skip and any(_number(r.get(k)) is not None for r in rows)]
        metrics = [Metric((f,), f, f"{task}: {f}") for f in fields]
        return per_language(task, metrics)(rows, models)

    return build


_DP_NOTE = ("; [95% CI over facts]; * beats the localizer's own Random (as many random neurons, same "
            "queries) at 5% in a paired test; n = facts/queries; – where the localizer selected no "
            "neuron (never shown as 0). The avg column pools all languages.")


def _edit_metrics(kind: str) -> tuple[Metric, ...]:
    caption = ("Edits made in English through the localizer's neurons (Eq. 15), tested in each "
               "language: the mean over facts of the share of queries that pass; n is the "
               "number of queries.")
    return tuple(
        Metric((m,), m, f"Knowledge {kind}: {m} (Eq. {eq})", "rate", caption, (f"{m}_queries",))
        for m, eq in (("reliability", 16), ("generality", 17), ("locality", 18))
    ) + (Metric(("mean",), "mean", f"Knowledge {kind}: mean of reliability, generality and "
                "locality", "rate", "n is the number of facts.", ("facts",)),)


TABLES: dict[str, Builder] = {
    "suppress-enhance": per_language("dp", (
        Metric(("dp_enhance",), "enhance", "ΔP when the LAKNs are enhanced (Fig. 5)", "pct_change",
               "Relative change of the correct answer's probability (Eq. 14) with the neurons "
               "doubled" + _DP_NOTE),
        Metric(("dp_suppress",), "suppress", "ΔP when the LAKNs are suppressed (Fig. 5)", "pct_change",
               "Relative change of the correct answer's probability (Eq. 14) with the neurons "
               "zeroed" + _DP_NOTE),
        Metric(("dp_suppress_other",), "suppress-other", "Specificity: ΔP on other facts' queries when "
               "a fact's LAKNs are suppressed", "pct_change",
               "The fact's neurons zeroed on the queries of unrelated facts the model knows; compare "
               "with the own-fact ΔP above. [95% CI over facts]; n is the number of queries.",
               ("queries_other",)),
        Metric(("dlo_enhance",), "enhance-log-odds", "Δlog-odds of the answer when the LAKNs are "
               "enhanced", "num", "logit(P_after) − logit(P_before) over the same queries as ΔP: "
               "correct answers have P near 1, so ΔP has little headroom and the log-odds show "
               "the effect. [95% CI over facts]; n = facts/queries."),
    )),
    "suppress-enhance-k": budget_table,
    "cross-language": cross_language_table,
    "ablation": ablation_table,
    "layer-distribution": layer_table,
    LOCALIZER_STATS: localizer_stats_table,
    "edit-erasure": per_language("edit-erasure", _edit_metrics("erasure"), header=cross_lingual),
    "edit-update": per_language("edit-update", _edit_metrics("update"), header=cross_lingual),
    "enhance-low-resource": per_language("enhance-low-resource", (
        Metric(("accuracy",), "accuracy", "Low-resource enhancement: accuracy on Q_error (Fig. 6)",
               "rate", "Accuracy on the queries the model answers wrongly in the language but "
               "knows in English (0 before), with the neurons doubled; n is |Q_error|.",
               ("queries",)),
    )),
    "inject": per_language("inject", (
        Metric(("new_accuracy",), "new", "Knowledge injection: accuracy on Q_new (Table V)", "rate",
               "After fine-tuning only the method's neurons (Direct_FT: every parameter) on a new "
               "fact; n is the number of Q_new queries.", ("new_queries",)),
        Metric(("old_accuracy",), "old", "Knowledge injection: accuracy on Q_old (Table V)", "rate",
               "Known facts after the injection (1 before); n is |Q_old|.", ("old_queries",)),
        Metric(("average",), "average", "Knowledge injection: mean of Q_new and Q_old accuracy "
               "(Table V)", "rate", "n is the number of injected facts.", ("facts",)),
    ), row_header="Method"),
}


def build_tables(rows_by_task: dict[str, list[dict]], models: Sequence[str]) -> list[Table]:
    """Every table the rows allow, in :data:`TABLES` order, then tasks without a builder."""
    order = list(TABLES) + sorted(t for t in rows_by_task if t not in TABLES)
    out: list[Table] = []
    for task in order:
        rows = rows_by_task.get(task)
        if rows:
            out += [t for t in TABLES.get(task, generic_table(task))(rows, models) if t.rows]
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
            write_file(path, text.encode())
            paths.append(path)
    return paths
