"""``suppress-enhance`` (paper Fig. 5, Eq. 14): what the LAKNs do to the correct answer.

For every query of the fact, in every language, the probability of the object's first token
is read three times: unedited, with the localizer's neurons set to 0 at the query's target
position (suppress), and with them doubled (enhance). Eq. 14:
``ΔP = (P_after − P_before) / P_before``. By default ΔP is averaged over the queries the
model answers correctly (argmax = the object's first token); ``correct_only=False`` takes all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from harness.attribution import Prediction, answer_probabilities, predict_batch
from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.tasks.base import TaskContext, manipulated, mean, neuron_pairs
from harness.tasks.output import Count, Figure, Language, Metric, Output

SUPPRESS = ("set", 0.0)
ENHANCE = ("scale", 2.0)


def relative_change(before: float, after: float) -> float:
    """Eq. 14. ``before`` is a softmax probability, > 0 in float32 unless it underflows."""
    return (after - before) / before if before > 0 else float("nan")


class DpRow(TypedDict):
    localizer: str
    language: Language
    dp_suppress: float  # mean ΔP (Eq. 14) over the included queries, neurons zeroed
    dp_enhance: float  # the same, neurons doubled
    queries: Count
    facts: Count


def unedited(ctx: TaskContext, fact: Fact) -> dict[str, list[Prediction]]:
    """Top-1 predictions without intervention, per language (cached per fact)."""
    key = f"predictions:{fact.uuid}"
    if key not in ctx.cache:
        ctx.cache[key] = {
            lang: predict_batch(ctx.adapter, qs, batch_size=ctx.batch_size)
            for lang, qs in fact.queries.items()
        }
    return ctx.cache[key]


def measure(ctx: TaskContext, fact: Fact, localizer: str, nset: NeuronSet) -> list[dict[str, Any]]:
    """One record per query: P before, after suppress, after enhance, and ΔP (Eq. 14)."""
    base = unedited(ctx, fact)
    k = len(neuron_pairs(nset))
    out = []
    for lang, queries in fact.queries.items():
        if k:
            with manipulated(ctx.adapter, nset, *SUPPRESS):
                p_sup = answer_probabilities(ctx.adapter, queries, batch_size=ctx.batch_size)
            with manipulated(ctx.adapter, nset, *ENHANCE):
                p_enh = answer_probabilities(ctx.adapter, queries, batch_size=ctx.batch_size)
        for i, pred in enumerate(base[lang]):
            before = pred.probability
            after_s = p_sup[i] if k else before
            after_e = p_enh[i] if k else before
            out.append({
                "localizer": localizer,
                "language": lang,
                "query": i,
                "correct": pred.correct,
                "included": pred.correct or not ctx.correct_only,
                "n_neurons": k,
                "p_before": before,
                "p_suppress": after_s,
                "p_enhance": after_e,
                "dp_suppress": relative_change(before, after_s),
                "dp_enhance": relative_change(before, after_e),
            })
    return out


def summarize_dp(records: Sequence[dict]) -> list[DpRow]:
    """Mean ΔP per (localizer, language), with the number of queries and facts behind it."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        if r["included"]:
            groups[(r["localizer"], r["language"])].append(r)
    return [
        DpRow(
            localizer=loc,
            language=lang,
            dp_suppress=mean([r["dp_suppress"] for r in rs]),
            dp_enhance=mean([r["dp_enhance"] for r in rs]),
            queries=len(rs),
            facts=len({r["fact"] for r in rs}),
        )
        for (loc, lang), rs in sorted(groups.items())
    ]


def _dp_metric(kind: str, done: str) -> Metric:
    verb = {"enhance": "enhanced", "suppress": "suppressed"}[kind]
    return Metric(f"dp_{kind}", f"ΔP when the LAKNs are {verb} (Fig. 5)", "pct_change", n="queries",
                  caption="Relative change of the correct answer's probability (Eq. 14) with the "
                  f"neurons {done}; n is the number of queries.", slug=kind)


@register("task", "suppress-enhance")
@dataclass
class SuppressEnhance:
    """ΔP of the correct answer when the LAKNs are zeroed or doubled (Fig. 5, Eq. 14)."""

    name = "suppress-enhance"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=DpRow,
        metrics=(_dp_metric("enhance", "doubled"), _dp_metric("suppress", "zeroed")),
        prefix="dp",
        figures=(Figure("delta-p", "Mean ΔP per language when the LAKNs are enhanced or "
                        "suppressed (Fig. 5)", "bars", x="language",
                        panels=(("dp_enhance", "enhance"), ("dp_suppress", "suppress")),
                        ylabel="ΔP (%)", exclude=("matrice-no-uaq", "matrice-no-ual")),),
    )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        return [r for loc, nset in neurons.items() for r in measure(ctx, fact, loc, nset)]

    def summarize(self, records: Sequence[dict]) -> list[DpRow]:
        return summarize_dp(records)
