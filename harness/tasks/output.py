"""What a task's summary rows are and how they are shown, declared where the task is defined.

A task class sets ``output = Output(row=MyRow, metrics=(Metric(...), ...), ...)``. Everything
that shows a run reads it from the registry, so a new task (built-in or plugin) needs no code
anywhere else:

- the console summary and the leaderboard tables (:mod:`harness.leaderboard.tables`): rows
  are localizers; the columns are the values of one row field (``columns="language"``: one
  table per metric) or the metrics themselves (``columns=None``: one table);
- the leaderboard figures (:class:`Figure`, drawn by :mod:`harness.leaderboard.figures`);
- the submission JSON Schema (:func:`row_schema`, from the row type's annotations).

The row type is a :class:`typing.TypedDict`; annotate fields with :data:`Count`,
:data:`Rate` or :data:`Language` (``Annotated`` types carrying JSON-Schema keywords) where
plain ``int``/``float``/``str`` says too little.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from rml_lama import LANGUAGE_CODES

# Annotated row-field types: the dict is merged into the field's JSON Schema.
Count = Annotated[int, {"minimum": 0}]  # queries, facts, neurons
Rate = Annotated[float, {"minimum": 0, "maximum": 1}]  # accuracies and shares (NaN: null)
Language = Annotated[str, {"enum": list(LANGUAGE_CODES)}]

Format = Literal["pct_change", "rate", "ratio", "num", "int"]


@dataclass(frozen=True)
class Metric:
    """One value of a summary row that tables show."""

    field: str  # the summary-row field holding the value
    title: str  # the table title (columns="..."), or the column header (columns=None)
    fmt: Format = "num"  # pct_change: ΔP as ±x%; rate: x% of [0, 1]; ratio: 0.000; num; int
    n: str | None = None  # the row field with the count behind the value (shown as n=...)
    caption: str = ""
    slug: str = ""  # table id suffix (columns="..."): "<prefix>-<slug>", or "<prefix>" if empty
    ci: bool = False  # the row has "<field>_ci_low"/"<field>_ci_high": a 95 % interval, shown
    facts: str | None = None  # the row field with the facts behind the value (n=facts/queries)
    # "lower"/"higher": mark * where "p_<field>" < 0.05 and the value is on that side of
    # "random_<field>" (it beats the localizer's own Random in a paired test)
    better: Literal["lower", "higher"] | None = None


@dataclass(frozen=True)
class Figure:
    """A leaderboard figure of a task's summary rows: ``lines`` (one line per localizer over
    the numeric field ``x``, with the 95 % interval as error bars where the rows have one;
    one panel per (field, title) of ``panels`` and one row of panels per model) or ``bars``
    (bars per value of ``x``, one per localizer; the same panels). Values are shown ×100."""

    id: str  # file stem
    title: str  # alt text and caption
    kind: Literal["lines", "bars"]
    x: str  # the row field along the x axis
    panels: tuple[tuple[str, str], ...]  # (row field, panel title)
    ylabel: str
    exclude: tuple[str, ...] = ()  # localizers left out (e.g. the ablation variants)
    log_x: bool = False  # lines: x on a log2 scale (budgets 5, 10, 20, 50)
    xlabel: str = ""  # lines: the x axis label (default: the field's name)


@dataclass(frozen=True)
class Output:
    """How a task's summary rows look and are shown."""

    row: type  # a TypedDict of one summary row
    metrics: tuple[Metric, ...]
    columns: str | None = "language"  # the row field whose values are the columns; None: metrics
    column_label: str = ""  # the column header, formatted with the row (default "{<columns>}")
    average: bool = True  # columns="...": add the unweighted mean over the columns
    pooled: str | None = None  # the column value of the task's own pooled row (e.g. "all"):
    #                            where a model's rows have it, it replaces the unweighted mean
    where: Mapping[str, Any] = field(default_factory=dict)  # only rows with these values are shown
    title: str = ""  # columns=None: the table's title
    caption: str = ""  # columns=None: the table's caption
    row_header: str = "Localizer"
    prefix: str = ""  # table ids start with this (default: the task's name)
    figures: tuple[Figure, ...] = ()
    # the task's own console layout (rows -> text), when the tables above say too little for
    # a terminal (e.g. p-values and counts per cell); None: the tables, as on the leaderboard
    console: Callable[[Sequence[Mapping[str, Any]]], str] | None = None

    def label(self, row: Mapping[str, Any]) -> str:
        """The header of the column that ``row`` falls in."""
        assert self.columns is not None
        return (self.column_label or f"{{{self.columns}}}").format(**row)

    @property
    def key(self) -> tuple[str, ...]:
        """The fields that identify a row: no two rows of a run share them."""
        return ("localizer", *((self.columns,) if self.columns else ()), *self.where)

    def shown(self, rows: typing.Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The rows that tables and figures read (``where``)."""
        return [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]


# -- the JSON Schema of a row --------------------------------------------------------------

_NUMBER: dict[str, Any] = {"type": ["number", "null"]}  # NaN is not JSON: a missing mean is null


def _type_schema(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        out = _type_schema(args[0])
        for extra in args[1:]:
            if isinstance(extra, dict):
                out.update(extra)
        return out
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        parts = [_type_schema(a) for a in args if a is not type(None)]
        out = parts[0] if len(parts) == 1 else {"anyOf": parts}
        if type(None) in args:
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if origin in (list, tuple):
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return dict(_NUMBER)
    if tp is str:
        return {"type": "string", "minLength": 1, "maxLength": 200}
    return {}


def row_schema(row: type) -> dict[str, Any]:
    """The JSON Schema of one row of a TypedDict ``row`` type. Its required keys are required;
    other scalar fields are allowed (a later harness version may add fields)."""
    hints = typing.get_type_hints(row, include_extras=True)
    required = sorted(getattr(row, "__required_keys__", hints))
    return {
        "type": "object",
        "required": required,
        "properties": {k: _type_schema(tp) for k, tp in hints.items()},
        "additionalProperties": {"type": ["string", "number", "boolean", "null", "array"]},
    }
