"""``layer-distribution`` (paper Fig. 4): the share of LAKNs in each layer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from harness.data import Fact
from harness.registry import register
from harness.tasks.base import TaskContext, neuron_pairs


@register("task", "layer-distribution")
class LayerDistribution:
    """Share of the selected neurons in each layer, per localizer (Fig. 4)."""

    name = "layer-distribution"
    requires: tuple[str, ...] = ()

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, Any]) -> list[dict]:
        n_layers = ctx.adapter.n_layers
        out = []
        for loc, nset in neurons.items():
            counts = [0] * n_layers
            for layer, _ in neuron_pairs(nset):
                counts[layer] += 1
            out += [
                {"localizer": loc, "layer": layer, "count": c, "n_layers": n_layers}
                for layer, c in enumerate(counts)
            ]
        return out

    def summarize(self, records: Sequence[dict]) -> list[dict]:
        totals: dict[str, int] = defaultdict(int)
        per: dict[tuple[str, int], int] = defaultdict(int)
        facts: dict[str, set[str]] = defaultdict(set)
        for r in records:
            totals[r["localizer"]] += r["count"]
            per[(r["localizer"], r["layer"])] += r["count"]
            facts[r["localizer"]].add(r["fact"])
        return [
            {
                "localizer": loc,
                "layer": layer,
                "neurons": n,
                "share": n / totals[loc] if totals[loc] else 0.0,
                "facts": len(facts[loc]),
            }
            for (loc, layer), n in sorted(per.items())
        ]
