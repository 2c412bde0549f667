"""``suppress-enhance-k``: suppress/enhance at matched budgets (ΔP-vs-k curves).

Localizers select very different numbers of neurons, and ΔP grows with the count, so a
comparison at each method's own threshold confounds *which* neurons with *how many*. Here
every localizer gives its top ``k`` neurons by its own scores, for each ``k`` of
``budgets`` (default 5, 10, 20, 50), and Random gives ``k`` random neurons: at equal ``k``
the comparison is about the selection alone.

The ranking: a localizer's ``score_map(fact, provider) -> [L, N]`` when it has one (MATRICE
and its ablations: ``S``; AMIG: the share of the query max, worst language — rankings whose
top is the localizer's own selection), else the order of its own neuron set, which covers
only ``k <= |set|``: a larger ``k`` is recorded as *fewer than k neurons* (``no_neurons``),
never as ΔP = 0. Random's top ``k`` is the first ``k`` of the fact's seeded permutation,
the same draw as the ``random`` localizer and as every localizer's own Random. Only the localizers the user
chose are ranked (not the ablation variants another task adds).

Summary rows, per localizer and ``k`` over all languages: ΔP suppress and enhance with 95 %
intervals over facts, facts/queries, Random's ΔP at the same ``k`` and the paired p-value
against it; a row ``k="area"`` per localizer holds the area under each curve over log₂ k
(divided by the range: the mean effect over budgets).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict

import torch

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.stats import area_under_curve
from harness.tasks.base import TaskContext, neuron_pairs
from harness.tasks.output import Count, Figure, Metric, Output
from harness.tasks.suppress_enhance import (
    ALL,
    chosen,
    is_random,
    measure,
    random_pairs,
    summarize_dp,
)

BUDGETS = (5, 10, 20, 50)
METRICS = ("dp_suppress", "dp_enhance")


def parse_budgets(value: Any) -> tuple[int, ...]:
    """``"5,10,20"`` or an int or a sequence -> sorted distinct positive ints."""
    items: list[Any]
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, str):
        items = [v for v in value.replace(";", ",").split(",") if v.strip()]
    else:
        items = list(value)
    try:
        ks = sorted({int(v) for v in items})
    except (TypeError, ValueError):
        raise ValueError(f"task option budgets: expected comma-separated integers, got {value!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"task option budgets: each k must be at least 1, got {value!r}")
    return tuple(ks)


def top_k(scores: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """The ``k`` highest finite entries of ``scores [L, N]`` as (layer, index), best first
    (ties by layer, then index); fewer when fewer are finite."""
    flat = scores.float().reshape(-1)
    order = torch.argsort(-flat, stable=True)
    order = order[torch.isfinite(flat[order])][:k]
    n = scores.shape[1]
    return [(int(i) // n, int(i) % n) for i in order]


def ranking(ctx: TaskContext, fact: Fact, name: str, nset: NeuronSet, k_max: int) -> list[tuple[int, int]]:
    """The localizer's best ``k_max`` neurons for ``fact`` (see the module docstring)."""
    if is_random(name, nset):
        return random_pairs(ctx, fact, k_max)
    localizer = ctx.localizers.get(name)
    score_map = getattr(localizer, "score_map", None)
    if ctx.provider is not None and callable(score_map):
        return top_k(score_map(fact, ctx.provider), k_max)
    return neuron_pairs(nset)[:k_max]  # a NeuronSet is best first


def at_budget(ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet], k: int) -> dict[str, NeuronSet]:
    """Each chosen localizer's top ``k`` neurons (an empty set where its ranking has fewer),
    for the tasks that take a ``budget`` option (the edit tasks)."""
    from harness.tasks.suppress_enhance import as_neuron_set

    out = {}
    for loc, nset in chosen(ctx, neurons).items():
        ranked = ranking(ctx, fact, loc, nset, k)
        out[loc] = as_neuron_set(ranked if len(ranked) >= k else [])
    return out


class _BudgetRowRequired(TypedDict):
    localizer: str
    language: Literal["all"]
    k: int | Literal["area"]
    k_label: str  # the column header: "k=5" ... "area"
    dp_suppress: float
    dp_enhance: float


class BudgetRow(_BudgetRowRequired, total=False):
    """Per (localizer, k) over all languages; ``k="area"``: the area under each curve."""

    # optional: older runs and submissions may lack them
    queries: Count
    facts: Count
    no_neurons: Count  # facts whose ranking has fewer than k neurons
    dp_suppress_ci_low: float
    dp_suppress_ci_high: float
    dp_enhance_ci_low: float
    dp_enhance_ci_high: float
    random_dp_suppress: float  # k random neurons on the same queries
    random_dp_enhance: float
    p_dp_suppress: float  # paired test against them
    p_dp_enhance: float


def _console(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.console import budgets

    return budgets(rows)


_NOTE = (
    "; [95% CI over facts]; * beats k random neurons at 5% (paired test); n = facts/queries; – "
    "where fewer than k neurons are ranked; area: the mean of the curve over log2 k."
)


@register("task", "suppress-enhance-k")
@dataclass
class SuppressEnhanceK:
    """ΔP at fixed budgets k: each localizer's top-k by its own scores vs k random neurons."""

    budgets: tuple[int, ...] = BUDGETS  # the budgets k

    name = "suppress-enhance-k"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=BudgetRow,
        metrics=(
            Metric(
                "dp_suppress",
                "ΔP at a fixed budget of k neurons, suppressed",
                "pct_change",
                n="queries",
                slug="suppress",
                ci=True,
                facts="facts",
                better="lower",
                caption="ΔP (Eq. 14) with each localizer's top k neurons (by its own scores) zeroed" + _NOTE,
            ),
            Metric(
                "dp_enhance",
                "ΔP at a fixed budget of k neurons, enhanced",
                "pct_change",
                n="queries",
                slug="enhance",
                ci=True,
                facts="facts",
                better="higher",
                caption="ΔP (Eq. 14) with each localizer's top k neurons (by its own scores) doubled" + _NOTE,
            ),
        ),
        columns="k",
        column_label="{k_label}",
        average=False,
        figures=(
            Figure(
                "delta-p-vs-k",
                "ΔP against the number of neurons k (each localizer's top "
                "k by its own scores; Random: k random neurons), with 95% intervals over "
                "facts",
                "lines",
                x="k",
                panels=(("dp_suppress", "LAKNs suppressed"), ("dp_enhance", "LAKNs enhanced")),
                ylabel="ΔP (%)",
                log_x=True,
                xlabel="k (neurons)",
            ),
        ),
        console=_console,
    )

    def __post_init__(self) -> None:
        self.budgets = parse_budgets(self.budgets)

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        ks = self.budgets
        out = []
        for loc, nset in chosen(ctx, neurons).items():
            ranked = ranking(ctx, fact, loc, nset, ks[-1])
            for k in ks:
                top = ranked[:k] if len(ranked) >= k else []  # fewer than k: no neurons
                recs = measure(ctx, fact, loc, top)
                if top and not is_random(loc, nset):
                    recs += measure(
                        ctx, fact, loc, random_pairs(ctx, fact, k), condition="random", keep_excluded=False
                    )
                out += [dict(r, k=k) for r in recs]
        return out

    def summarize(self, records: Sequence[dict]) -> list[BudgetRow]:
        by_k: dict[int, list[dict]] = defaultdict(list)
        for r in records:
            by_k[int(r["k"])].append(r)
        rows: list[dict[str, Any]] = []
        for k in sorted(by_k):
            rows += [
                dict(r, k=k, k_label=f"k={k}") for r in summarize_dp(by_k[k], METRICS) if r["language"] == ALL
            ]
        for loc in sorted({r["localizer"] for r in rows}):
            mine = sorted((r for r in rows if r["localizer"] == loc), key=lambda r: r["k"])
            area: dict[str, Any] = {"localizer": loc, "language": ALL, "k": "area", "k_label": "area"}
            for m in METRICS:
                area[m] = area_under_curve([r["k"] for r in mine], [r[m] for r in mine])
                if all(f"random_{m}" in r for r in mine):
                    area[f"random_{m}"] = area_under_curve(
                        [r["k"] for r in mine], [r[f"random_{m}"] for r in mine]
                    )
            rows.append(area)
        return rows  # type: ignore[return-value]
