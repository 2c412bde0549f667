"""``ablation`` (paper Table II): MATRICE against its ablations on the same facts.

Each variant's mean ΔP (suppress and enhance, per language) is divided by MATRICE's, so
MATRICE = 1.000, and the ratios are averaged over languages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from harness.data import Fact
from harness.registry import register
from harness.tasks.base import TaskContext, mean
from harness.tasks.suppress_enhance import measure, summarize_dp

VARIANTS = ("matrice", "matrice-no-uaq", "matrice-no-ual")


def normalized_to_reference(
    per_language: Sequence[dict], reference: str = "matrice"
) -> list[dict]:
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
            for metric, col in (("enhance", "dp_enhance"), ("suppress", "dp_suppress")):
                if ref[col] and ref[col] == ref[col]:  # skip 0 and NaN denominators
                    ratios[loc][metric].append(row[col] / ref[col])
    return [
        {
            "localizer": loc,
            "enhance": mean(r["enhance"]),
            "suppress": mean(r["suppress"]),
            "languages": len(r["enhance"]),
            "queries": sum(x["queries"] for x in per_language if x["localizer"] == loc),
        }
        for loc, r in ratios.items()
    ]


@register("task", "ablation")
class Ablation:
    """MATRICE vs. w/o UaQ and w/o UaL, normalized to MATRICE = 1 (Table II)."""

    name = "ablation"
    requires = VARIANTS

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, Any]) -> list[dict]:
        return [r for loc in VARIANTS for r in measure(ctx, fact, loc, neurons[loc])]

    def summarize(self, records: Sequence[dict]) -> list[dict]:
        return normalized_to_reference(summarize_dp(records))
