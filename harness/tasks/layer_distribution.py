"""``layer-distribution`` (paper Fig. 4): the share of LAKNs in each layer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypedDict

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.tasks.base import TaskContext, neuron_pairs
from harness.tasks.output import Count, Figure, Metric, Output, Rate


class LayerRow(TypedDict):
    localizer: str
    layer: Count
    neurons: Count  # Σ count over the facts
    share: Rate  # neurons / all the localizer's neurons
    facts: Count


@register("task", "layer-distribution")
@dataclass
class LayerDistribution:
    """Share of the selected neurons in each layer, per localizer (Fig. 4)."""

    name = "layer-distribution"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=LayerRow,
        metrics=(
            Metric(
                "share",
                "Layer distribution of LAKNs (Fig. 4)",
                "rate",
                n="neurons",
                caption="Share of the localizer's LAKNs in each layer; n is the number of neurons.",
            ),
        ),
        columns="layer",
        column_label="L{layer}",
        average=False,
        figures=(
            Figure(
                "layer-distribution",
                "Share of LAKNs per layer, per localizer and model (Fig. 4)",
                "lines",
                x="layer",
                panels=(("share", "share of LAKNs"),),
                ylabel="share of LAKNs (%)",
            ),
        ),
    )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
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

    def summarize(self, records: Sequence[dict]) -> list[LayerRow]:
        totals: dict[str, int] = defaultdict(int)
        per: dict[tuple[str, int], int] = defaultdict(int)
        facts: dict[str, set[str]] = defaultdict(set)
        for r in records:
            totals[r["localizer"]] += r["count"]
            per[(r["localizer"], r["layer"])] += r["count"]
            facts[r["localizer"]].add(r["fact"])
        return [
            LayerRow(
                localizer=loc,
                layer=layer,
                neurons=n,
                # no neuron at all: no share (NaN, shown –), not a flat 0 in every layer
                share=n / totals[loc] if totals[loc] else float("nan"),
                facts=len(facts[loc]),
            )
            for (loc, layer), n in sorted(per.items())
        ]
