"""``ground-truth``: score localizers against planted knowledge neurons (``planted:BASE``).

For every planted fact that passed the checks and every localizer: precision, recall and
F1 of the selected neurons against the fact's *agnostic* planted neurons; the average
precision of a full ranking of the ``L · N`` neurons (the selected ones in the localizer's
order, best first, then the rest in an order drawn at random per fact, the same for every
localizer, so that a localizer is not rewarded for what it did not rank); and the share of
the selected neurons that are the fact's decoys, its language-specific neurons, or another
fact's planted neurons. Records also carry the chance level of AP (a random ranking's
expected AP, :func:`harness.planted.metrics.chance_ap`) and the base rate ``R / (L · N)``.

Summary: per localizer, the mean of each score over facts with a 95 % percentile
bootstrap interval (resampling facts). Facts that are not planted (or were dropped by the
checks) get no record; on a model without ground truth the task raises.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypedDict

import torch

from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.localizers.random import fact_generator
from harness.planted.metrics import average_precision, chance_ap, chance_mean_ap_range, precision_recall_f1
from harness.planted.truth import GroundTruth
from harness.registry import register
from harness.stats import NAN_ESTIMATE, mean_ci
from harness.tasks.base import TaskContext, neuron_pairs
from harness.tasks.output import Count, Figure, Metric, Output

SCORES = ("ap", "precision", "recall", "f1", "share_decoy", "share_language", "share_other_planted")


def _truth(ctx: TaskContext, cache: dict[str, GroundTruth]) -> GroundTruth:
    folder = getattr(getattr(ctx.model, "spec", None), "hf_id", "") or ""
    if not folder or not (Path(folder) / "truth.json").exists():
        name = getattr(getattr(ctx.model, "spec", None), "name", "this model")
        raise ValueError(
            f"task ground-truth needs a planted model (e.g. --model planted:tiny-gpt); "
            f"{name!r} has no truth.json beside its weights"
        )
    if folder not in cache:
        cache[folder] = GroundTruth.load(folder)
    return cache[folder]


def score_fact(
    truth: GroundTruth, uuid: str, shape: tuple[int, int], neurons: Mapping[str, Any], seed: int = 0
) -> list[dict]:
    """One record per localizer for the planted fact ``uuid`` (none if not scored)."""
    pf = truth.fact(uuid)
    if pf is None or not pf.scored:
        return []
    agnostic, language, decoy = pf.of_kind("agnostic"), pf.of_kind("language"), pf.of_kind("decoy")
    other = {(n.layer, n.index) for f in truth.facts if f.uuid != uuid for n in f.neurons}
    n_layers, n_neurons = shape
    total = n_layers * n_neurons
    tail = torch.randperm(total, generator=fact_generator(seed, uuid)).tolist()
    out = []
    for loc, nset in neurons.items():
        selected = list(dict.fromkeys(neuron_pairs(nset)))  # best first
        chosen = set(selected)
        ranking = selected + [pair for i in tail if (pair := (i // n_neurons, i % n_neurons)) not in chosen]
        p, r, f1 = precision_recall_f1(selected, agnostic)
        k = len(selected)

        def share(group: set, k: int = k, chosen: set = chosen) -> float:
            return len(chosen & group) / k if k else float("nan")

        out.append(
            {
                "localizer": loc,
                "n_selected": k,
                "n_agnostic": len(agnostic),
                "n_neurons": total,
                "precision": p,
                "recall": r,
                "f1": f1,
                "ap": average_precision(ranking, agnostic),
                "chance_ap": chance_ap(total, len(agnostic)) if agnostic else float("nan"),
                "base_rate": len(agnostic) / total,
                "share_decoy": share(decoy),
                "share_language": share(language),
                "share_other_planted": share(other),
                "recall_language": len(chosen & language) / len(language) if language else float("nan"),
                "recall_decoy": len(chosen & decoy) / len(decoy) if decoy else float("nan"),
            }
        )
    return out


class GroundTruthRow(TypedDict):
    localizer: str
    truth: str  # what the scores are against: "agnostic" (for the figure's x axis)
    facts: Count
    ap: float
    ap_ci_low: float
    ap_ci_high: float
    precision: float
    precision_ci_low: float
    precision_ci_high: float
    recall: float
    recall_ci_low: float
    recall_ci_high: float
    f1: float
    f1_ci_low: float
    f1_ci_high: float
    share_decoy: float
    share_decoy_ci_low: float
    share_decoy_ci_high: float
    share_language: float
    share_language_ci_low: float
    share_language_ci_high: float
    share_other_planted: float
    share_other_planted_ci_low: float
    share_other_planted_ci_high: float
    chance_ap: float  # a random ranking's expected AP
    chance_ap_ci_low: float  # the 95 % range of the mean AP over these facts under random
    chance_ap_ci_high: float  # rankings (simulated): where a random localizer should fall
    base_rate: float  # agnostic neurons / all neurons
    mean_selected: float
    empty: Count  # facts with nothing selected (precision undefined there)
    selected_facts: Count  # facts with a selection: the n of precision and the shares


def summarize_scores(records: Sequence[dict], seed: int = 0) -> list[GroundTruthRow]:
    """Per localizer: mean and 95 % bootstrap interval over facts of every score."""
    by_loc: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_loc[r["localizer"]].append(r)
    rows = []
    for loc, rs in sorted(by_loc.items()):
        row: dict[str, Any] = {"localizer": loc, "truth": "agnostic", "facts": len({r["fact"] for r in rs})}
        for s in SCORES:
            vals = [float(r[s]) for r in rs if not math.isnan(r[s])]
            est = mean_ci(vals, seed=seed) if vals else NAN_ESTIMATE  # bootstrap over facts
            row.update(est.as_dict(s))
        row["chance_ap"] = sum(r["chance_ap"] for r in rs) / len(rs)
        sizes = [
            (int(r["n_neurons"]), int(r["n_agnostic"])) for r in rs if r.get("n_neurons") and r["n_agnostic"]
        ]
        row["chance_ap_ci_low"], row["chance_ap_ci_high"] = chance_mean_ap_range(sizes, seed=seed)
        row["base_rate"] = sum(r["base_rate"] for r in rs) / len(rs)
        row["mean_selected"] = sum(r["n_selected"] for r in rs) / len(rs)
        row["empty"] = sum(r["n_selected"] == 0 for r in rs)
        row["selected_facts"] = row["facts"] - row["empty"]
        rows.append(GroundTruthRow(**row))  # type: ignore[typeddict-item]
    return rows


_N = {s: "selected_facts" for s in ("precision", "share_decoy", "share_language")}  # else "facts"
_CI = "mean over facts [95 % bootstrap interval over facts] (harness.stats)"


@register("task", "ground-truth")
@dataclass
class GroundTruthTask:
    """Precision, recall, F1 and AP against planted agnostic neurons (planted:BASE models)."""

    name = "ground-truth"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=GroundTruthRow,
        metrics=tuple(  # each with its 95 % interval; precision and the shares exist only
            # where something was selected, so their n is the facts with a selection
            Metric(s, title, "ratio", n=_N.get(s, "facts"), ci=True)
            for s, title in (
                ("ap", "AP"),
                ("precision", "precision"),
                ("recall", "recall"),
                ("f1", "F1"),
                ("share_decoy", "decoy share"),
                ("share_language", "language-specific share"),
            )
        )
        + (Metric("chance_ap", "chance AP", "ratio", ci=True),),
        columns=None,
        title="Ground truth: localizers against planted agnostic neurons",
        caption="AP of the full ranking, precision, recall and F1 of the selected neurons against "
        "the planted language-agnostic neurons; shares of the selected neurons that are the fact's "
        f"decoys or language-specific planted neurons; {_CI}. Chance AP: a random ranking's "
        "expected AP [the 95 % range of the mean over these facts under random rankings, simulated: "
        "where a random localizer's AP should fall].",
        figures=(
            Figure(
                "ground-truth",
                "AP, precision, recall and F1 against planted agnostic neurons, per localizer",
                "bars",
                x="truth",
                panels=(("ap", "AP"), ("precision", "precision"), ("recall", "recall"), ("f1", "F1")),
                ylabel="score (%)",
            ),
        ),
    )

    _cache: dict[str, GroundTruth] = field(default_factory=dict, init=False, repr=False)

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        truth = _truth(ctx, self._cache)
        shape = (int(ctx.adapter.n_layers), int(ctx.adapter.n_neurons))
        return score_fact(truth, fact.uuid, shape, neurons, seed=ctx.seed)

    def summarize(self, records: Sequence[dict]) -> list[GroundTruthRow]:
        return summarize_scores(records)
