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

The task needs the run's localizer objects and attribution provider
(``ctx.options["localizers"]``, ``ctx.options["provider"]``, set by ``rml-eval``); the
``random`` localizer is skipped (its neurons do not depend on the language).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from harness.data import Fact
from harness.registry import register
from harness.tasks.base import TaskContext
from harness.tasks.suppress_enhance import ALL, chosen, is_random, measure, summarize_dp

log = logging.getLogger(__name__)
METRICS = ("dp_suppress", "dp_enhance")


@register("task", "cross-language")
class CrossLanguage:
    """ΔP in every language of neurons localized from one language's queries."""

    name = "cross-language"
    requires: tuple[str, ...] = ()

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, Any]) -> list[dict]:
        localizers, provider = ctx.options.get("localizers") or {}, ctx.options.get("provider")
        if provider is None:
            raise ValueError("cross-language needs ctx.options['provider'] and ['localizers'] "
                             "(rml-eval sets them)")
        out = []
        for loc, nset in chosen(ctx, neurons).items():
            if is_random(loc, nset) or loc not in localizers:
                continue
            for source, queries in fact.queries.items():
                if not queries:
                    continue
                one = Fact(fact.uuid, fact.relation, {source: tuple(queries)})
                found = localizers[loc].localize(one, provider)
                out += [dict(r, source=source) for r in measure(ctx, fact, loc, found)]
        return out

    def summarize(self, records: Sequence[dict]) -> list[dict]:
        rows = []
        for source in sorted({r["source"] for r in records}):
            mine = [r for r in records if r["source"] == source]
            rows += [dict(r, source=source) for r in summarize_dp(mine, METRICS) if r["language"] != ALL]
        relabeled = [dict(r, language="same" if r["language"] == r["source"] else "other") for r in records]
        rows += [dict(r, source=ALL) for r in summarize_dp(relabeled, METRICS) if r["language"] != ALL]
        return rows
