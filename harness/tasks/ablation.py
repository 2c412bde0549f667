"""``ablation`` (paper Table II): MATRICE against its ablations on the same facts.

Each variant's mean ΔP (suppress and enhance, per language) is divided by MATRICE's, so
MATRICE = 1.000, and the ratios are averaged over languages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypedDict

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.tasks.base import TaskContext, mean
from harness.tasks.output import Count, Metric, Output
from harness.tasks.suppress_enhance import DpRow, measure, summarize_dp

VARIANTS = ("matrice", "matrice-no-uaq", "matrice-no-ual")


class AblationRow(TypedDict):
    localizer: str
    enhance: float  # mean over languages of the variant's ΔP_enhance / MATRICE's
    suppress: float
    languages: Count  # languages where both exist
    queries: Count


def normalized_to_reference(
    per_language: Sequence[DpRow], reference: str = "matrice"
) -> list[AblationRow]:
    """Rows ``{localizer, enhance, suppress, languages}``: per language each mean ΔP divided
    by the reference's, then averaged over the languages where both exist."""
    by = {(r["localizer"], r["language"]): r for r in per_language}
    langs = sorted({r["language"] for r in per_language})
    ratios: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for loc in sorted({r["localizer"] for r in per_language}):
        for lang in langs:
            ref, row = by.get((reference, lang)), by.get((loc, lang))
            if ref is None or row is None:
                continue
            pairs = {"enhance": (row["dp_enhance"], ref["dp_enhance"]),
                     "suppress": (row["dp_suppress"], ref["dp_suppress"])}
            for metric, (value, denominator) in pairs.items():
                if denominator and denominator == denominator:  # skip 0 and NaN denominators
                    ratios[loc][metric].append(value / denominator)
    return [
        AblationRow(
            localizer=loc,
            enhance=mean(r["enhance"]),
            suppress=mean(r["suppress"]),
            languages=len(r["enhance"]),
            queries=sum(x["queries"] for x in per_language if x["localizer"] == loc),
        )
        for loc, r in ratios.items()
    ]


@register("task", "ablation")
@dataclass
class Ablation:
    """MATRICE vs. w/o UaQ and w/o UaL, normalized to MATRICE = 1 (Table II)."""

    name = "ablation"
    requires: ClassVar[tuple[str, ...]] = VARIANTS
    output = Output(
        row=AblationRow,
        metrics=(Metric("enhance", "Enhance", "ratio", n="queries"),
                 Metric("suppress", "Suppress", "ratio", n="queries")),
        columns=None, title="Ablation (Table II)", row_header="Method",
        caption="Mean ΔP of each variant divided by MATRICE's, per language, averaged over "
        "languages (MATRICE = 1.000); n is the number of queries behind the variant.",
    )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        return [r for loc in VARIANTS for r in measure(ctx, fact, loc, neurons[loc])]

    def summarize(self, records: Sequence[dict]) -> list[AblationRow]:
        return normalized_to_reference(summarize_dp(records))
