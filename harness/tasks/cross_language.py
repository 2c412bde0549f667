"""``cross-language``: are a localizer's neurons language-agnostic? (source × target matrix)

For each fact and each *source* language ``s``, the localizer is run on the fact's queries
in ``s`` only; those neurons are then suppressed (and enhanced) on the queries of every
*target* language ``t``. A language-agnostic method's neurons found from one language move
the answer in all of them: the off-diagonal cells are close to the diagonal. The attribution
of each query is computed once per run (the provider's cache), so this costs forward passes
only.

Summary rows: per (localizer, source, target) the mean ΔP (Eq. 14) with its 95 % interval
over facts, facts/queries and ``no_neurons`` (facts where the source language alone gave no
neuron); and per localizer ``source="all"`` with ``language`` ``same`` (t = s) and
``other`` (t ≠ s), the contrast in one pair of numbers.

The task needs the run's localizer objects and attribution provider (``ctx.localizers``,
``ctx.provider``, set by ``rml-eval``); the ``random`` localizer is skipped (its neurons do
not depend on the language), and so are the localizers only another task added.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypedDict

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.tasks.base import TaskContext
from harness.tasks.output import Count, Metric, Output
from harness.tasks.suppress_enhance import ALL, LanguageOrAll, chosen, is_random, measure, summarize_dp
from rml_lama import LANGUAGE_CODES

log = logging.getLogger(__name__)
METRICS = ("dp_suppress", "dp_enhance")


class _CrossRowRequired(TypedDict):
    localizer: str
    source: LanguageOrAll  # the language the neurons were found from; "all": pooled
    language: Annotated[str, {"enum": [*LANGUAGE_CODES, "same", "other"]}]  # the target
    dp_suppress: float
    dp_enhance: float
    queries: Count
    facts: Count


class CrossRow(_CrossRowRequired, total=False):
    # optional: older runs and submissions may lack them
    no_neurons: Count  # facts where the source language alone gave no neuron
    dp_suppress_ci_low: float
    dp_suppress_ci_high: float
    dp_enhance_ci_low: float
    dp_enhance_ci_high: float


def _console(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.console import cross_language

    return cross_language(rows)


@register("task", "cross-language")
@dataclass
class CrossLanguage:
    """ΔP in every language of neurons localized from one language's queries."""

    name = "cross-language"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=CrossRow,
        metrics=(
            Metric(
                "dp_suppress",
                "Cross-language: ΔP when neurons found from one language are suppressed",
                "pct_change",
                n="queries",
                ci=True,
                facts="facts",
                slug="suppress",
                caption="Neurons localized from each language's queries alone, zeroed on "
                "the queries of the same language and of the other languages (pooled over "
                "source languages); [95% CI over facts]; n = facts/queries. The full "
                "source × target matrix is in summary.json and on the console.",
            ),
        ),
        columns="language",
        average=False,
        where={"source": ALL},
        console=_console,
    )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        if ctx.provider is None:
            raise ValueError(
                "cross-language needs the run's attribution provider and localizers "
                "(TaskContext.provider, .localizers; rml-eval sets them)"
            )
        out = []
        for loc, nset in chosen(ctx, neurons).items():
            if is_random(loc, nset) or loc not in ctx.localizers:
                continue
            for source, queries in fact.queries.items():
                if not queries:
                    continue
                one = dataclasses.replace(fact, queries={source: tuple(queries)})
                found = ctx.localizers[loc].localize(one, ctx.provider)
                out += [dict(r, source=source) for r in measure(ctx, fact, loc, found)]
        return out

    def summarize(self, records: Sequence[dict]) -> list[CrossRow]:
        rows = []
        for source in sorted({r["source"] for r in records}):
            mine = [r for r in records if r["source"] == source]
            rows += [dict(r, source=source) for r in summarize_dp(mine, METRICS) if r["language"] != ALL]
        relabeled = [dict(r, language="same" if r["language"] == r["source"] else "other") for r in records]
        rows += [dict(r, source=ALL) for r in summarize_dp(relabeled, METRICS) if r["language"] != ALL]
        return rows  # type: ignore[return-value]
