"""``ablation`` (paper Table II): MATRICE against its ablations on the same facts.

Per language, each variant's mean ΔP (suppress and enhance) is divided by MATRICE's, so
MATRICE = 1.000; the ratios are averaged over languages, and the Average column is the mean
of the Enhance and Suppress columns (as in the paper's Table II).

A ratio is only as good as its denominator: a language enters a column only where MATRICE's
ΔP is significantly non-zero in the expected direction (its 95 % interval over facts lies
above 0 for enhance, below 0 for suppress; a ratio to an effect of the wrong sign is not a
"share of MATRICE's performance"). Where no language
qualifies the cell is empty (NaN, shown as —) and ``why_<column>`` says why. The paper does
not say how it treats a near-zero denominator; without this rule one noisy language can
make a variant look 3× better than MATRICE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.tasks.base import TaskContext, mean
from harness.tasks.output import Count, Metric, Output
from harness.tasks.suppress_enhance import ALL, DpRow, measure, summarize_dp

VARIANTS = ("matrice", "matrice-no-uaq", "matrice-no-ual")
COLUMNS = (("enhance", "dp_enhance"), ("suppress", "dp_suppress"))
DIRECTION = {"dp_enhance": 1, "dp_suppress": -1}  # the sign of the effect the paper expects


class _AblationRowRequired(TypedDict):
    localizer: str
    enhance: float  # mean over the usable languages of the variant's ΔP_enhance / MATRICE's
    suppress: float
    queries: Count


class AblationRow(_AblationRowRequired, total=False):
    # optional: older runs and submissions may lack them
    average: float  # mean of enhance and suppress (Table II's Average column)
    languages_enhance: Count  # languages used for each column
    languages_suppress: Count
    no_neurons: Count  # facts where the variant selected nothing (most of any language)
    why_enhance: str  # why a column is empty
    why_suppress: str


def _significant(row: Mapping[str, Any], col: str) -> bool:
    """The 95 % interval excludes 0 on the expected side (enhance > 0, suppress < 0); False
    when it is NaN (fewer than 2 facts)."""
    lo, hi = row.get(f"{col}_ci_low", math.nan), row.get(f"{col}_ci_high", math.nan)
    return lo > 0 if DIRECTION[col] > 0 else hi < 0


def normalized_to_reference(per_language: Sequence[DpRow], reference: str = "matrice") -> list[AblationRow]:
    """Rows ``{localizer, enhance, suppress, average, languages_<col>, why_<col>, queries}``:
    per language each mean ΔP divided by the reference's where the reference's is
    significantly non-zero, then averaged over those languages."""
    rows = [r for r in per_language if r["language"] != ALL]
    by: dict[tuple[str, str], Mapping[str, Any]] = {(r["localizer"], r["language"]): r for r in rows}
    langs = sorted({r["language"] for r in rows})
    out = []
    for loc in sorted({r["localizer"] for r in rows}):
        row: dict[str, Any] = {"localizer": loc}  # an AblationRow
        for name, col in COLUMNS:
            ratios, skipped = [], []
            for lang in langs:
                ref, mine = by.get((reference, lang)), by.get((loc, lang))
                if ref is None or mine is None:
                    continue
                if not _significant(ref, col):
                    skipped.append(lang)
                    continue
                if mine.get(col) == mine.get(col):  # NaN: the variant has no neurons there
                    ratios.append(mine[col] / ref[col])
            row[name] = mean(ratios)
            row[f"languages_{name}"] = len(ratios)
            if not ratios:
                row[f"why_{name}"] = (
                    f"{reference}'s ΔP is not significantly {'above' if DIRECTION[col] > 0 else 'below'} 0 "
                    f"(95% CI) in "
                    f"{', '.join(skipped)}"
                    if skipped
                    else f"no language where both {loc} and {reference} have neurons"
                )
        row["average"] = (
            mean([row[n] for n, _ in COLUMNS]) if all(row[n] == row[n] for n, _ in COLUMNS) else math.nan
        )
        row["queries"] = sum(r.get("queries", 0) for r in rows if r["localizer"] == loc)
        row["no_neurons"] = max((r.get("no_neurons", 0) for r in rows if r["localizer"] == loc), default=0)
        out.append(row)
    return out  # type: ignore[return-value]


def _console(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.console import ablation

    return ablation(rows)


@register("task", "ablation")
@dataclass
class Ablation:
    """MATRICE vs. w/o UaQ and w/o UaL, normalized to MATRICE = 1 (Table II)."""

    name = "ablation"
    requires: ClassVar[tuple[str, ...]] = VARIANTS
    output = Output(
        row=AblationRow,
        metrics=(
            Metric("enhance", "Enhance", "ratio", n="queries"),
            Metric("suppress", "Suppress", "ratio", n="queries"),
            Metric("average", "Average", "ratio", n="queries"),
        ),
        columns=None,
        title="Ablation (Table II)",
        row_header="Method",
        caption="Mean ΔP of each variant divided by MATRICE's, per language, averaged over the "
        "languages where MATRICE's ΔP is significantly non-zero in the expected direction (95% CI "
        "over facts); Average is the mean of Enhance and Suppress (MATRICE = 1.000); – where no "
        "language qualifies (the reason is in summary.json, why_enhance / why_suppress); n is the "
        "number of queries behind the variant.",
        console=_console,
    )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        return [r for loc in VARIANTS for r in measure(ctx, fact, loc, neurons[loc])]

    def summarize(self, records: Sequence[dict]) -> list[AblationRow]:
        return normalized_to_reference(summarize_dp(records, metrics=("dp_suppress", "dp_enhance")))
