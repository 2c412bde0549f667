"""An example task plugin, the whole of it: accuracy with the LAKNs set to a value.

    PYTHONPATH=examples/task-plugin rml-eval --plugin suppressed_accuracy \
        --localizer matrice,random --model tiny-gpt --tasks suppressed-accuracy \
        --task-option suppressed-accuracy.value=0

Its summary rows get a leaderboard table and figure, a console table and a submission
schema from what ``output`` declares; nothing else in the harness names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypedDict

from harness.attribution import predict_batch
from harness.data import Fact
from harness.localizers import NeuronSet
from harness.options import option
from harness.registry import register
from harness.tasks import Count, Figure, Language, Metric, Output, Rate, TaskContext, manipulated


class AccuracyRow(TypedDict):
    localizer: str
    language: Language
    accuracy: Rate  # share of the queries answered right with the neurons set
    queries: Count


@register("task", "suppressed-accuracy")
@dataclass
class SuppressedAccuracy:
    """Accuracy with the LAKNs set to a value at the answer position (an example plugin)."""

    name = "suppressed-accuracy"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=AccuracyRow,
        metrics=(
            Metric(
                "accuracy",
                "Accuracy with the LAKNs set",
                "rate",
                n="queries",
                caption="n is the number of queries.",
            ),
        ),
        figures=(
            Figure(
                "suppressed-accuracy",
                "Accuracy with the LAKNs set, per language",
                "bars",
                x="language",
                panels=(("accuracy", "accuracy"),),
                ylabel="accuracy (%)",
            ),
        ),
    )

    value: float = option(0.0, "what the neurons are set to")

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        out = []
        for loc, nset in neurons.items():
            for lang, queries in fact.queries.items():
                with manipulated(ctx.adapter, nset, "set", self.value):
                    preds = predict_batch(ctx.adapter, queries, batch_size=ctx.batch_size)
                out.append(
                    {
                        "localizer": loc,
                        "language": lang,
                        "n": len(preds),
                        "right": sum(p.correct for p in preds),
                    }
                )
        return out

    def summarize(self, records: Sequence[dict]) -> list[AccuracyRow]:
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in records:
            counts[(r["localizer"], r["language"])][0] += r["right"]
            counts[(r["localizer"], r["language"])][1] += r["n"]
        return [
            AccuracyRow(localizer=loc, language=lang, accuracy=right / n if n else float("nan"), queries=n)
            for (loc, lang), (right, n) in sorted(counts.items())
        ]
