"""The checks a planted model must pass before its ground truth is used for scoring.

Per fact (a fact that fails one is dropped from scoring, and counted):

* ``answered``: after planting, the fact is answered in at least ``min_languages`` (5) of
  its languages (a language is answered when most of its queries are: top-1 = the
  object's first token);
* ``ablation``: zeroing the fact's planted neurons at the target position brings its
  accuracy back within ``ablation_tolerance`` (0.02) of its pre-plant accuracy;
* ``selective``: none of its planted neurons fires (pre-activation above its threshold)
  on more than ``max_fire_rate`` (0.1 %) of the other facts' queries;
* ``no_agnostic``: no agnostic key could be fitted (nothing to score against);
* ``agnostic_fires``: each agnostic neuron fires on at least half the fact's queries in
  every language. A language neuron or decoy that does not (in its languages) is marked
  ``silent``: it stays in the model but is not truth of its kind, and the ``ablation``
  check zeroes only the fact's other neurons.

Global, on the whole model:

* ``planted_accuracy``: at least ``min_share_answered`` (80 %) of the planted facts pass
  ``answered``, and their mean query accuracy is at least 0.8;
* ``known_accuracy``: the accuracy on the known facts' queries moves by at most
  ``known_tolerance`` (1 point).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from harness.planted.features import Features, collect, key_params
from harness.planted.plant import Universe
from harness.planted.truth import PlantedFact

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


@dataclass(frozen=True)
class CheckConfig:
    min_languages: int = 5
    min_share_answered: float = 0.8
    min_mean_accuracy: float = 0.8
    known_tolerance: float = 0.01
    ablation_tolerance: float = 0.02
    max_fire_rate: float = 0.001
    min_own_fire: float = 0.5


def _acc(correct: torch.Tensor, idx: list[int]) -> float:
    return float(correct[idx].float().mean()) if idx else float("nan")


@torch.no_grad()
def ablated_correct(adapter: ModelAdapter, queries: list, neurons: list[tuple[int, int]]) -> torch.Tensor:
    from harness.localizers.base import NeuronSet
    from harness.tasks.base import manipulated

    pairs = torch.tensor(neurons, dtype=torch.long).reshape(-1, 2)
    with manipulated(adapter, NeuronSet(pairs, torch.zeros(len(pairs))), "set", 0.0):
        return collect(adapter, queries).correct


def run_checks(
    adapter: ModelAdapter,
    universe: Universe,
    facts: list[PlantedFact],
    before: Features,
    cfg: CheckConfig = CheckConfig(),
    after: Features | None = None,
) -> dict[str, Any]:
    """Mark each fact ``scored``/``failed`` in place; return the checks' figures. ``before``
    and ``after``: :func:`collect` on ``universe.queries`` before and after planting."""
    after = collect(adapter, universe.queries) if after is None else after
    fact_of, lang_of = universe.fact_of, universe.lang_of
    idx_of: dict[str, list[int]] = defaultdict(list)
    for q, u in enumerate(fact_of):
        idx_of[u].append(q)
    known_idx = [q for u in universe.known for q in idx_of[u]]
    pre_cache: dict[int, torch.Tensor] = {}

    def pre(layer: int) -> torch.Tensor:
        if layer not in pre_cache:
            kp = key_params(adapter, layer)
            b = kp.bias.detach().float().cpu() if kp.bias is not None else 0.0
            pre_cache[layer] = after.x[:, layer] @ kp.keys().detach().float().cpu().T + b
        return pre_cache[layer]

    per_fact = []
    for f in facts:
        own = idx_of[f.uuid]
        langs = sorted({lang_of[q] for q in own})
        by_lang = {lang: [q for q in own if lang_of[q] == lang] for lang in langs}
        answered = [lang for lang in langs if _acc(after.correct, by_lang[lang]) > 0.5]
        others = [q for q in range(len(fact_of)) if fact_of[q] != f.uuid]
        fire_rates, own_fire = [], []
        for n in f.neurons:
            p = pre(n.layer)[:, n.index]
            fire_rates.append(float((p[others] > n.threshold).float().mean()))
            own_fire.append(
                min(
                    float((p[by_lang[lang]] > n.threshold).float().mean())
                    for lang in n.languages
                    if lang in by_lang
                )
            )
            n.silent = n.kind != "agnostic" and own_fire[-1] < cfg.min_own_fire
        queries = [universe.queries[q] for q in own]
        abl = ablated_correct(adapter, queries, [(n.layer, n.index) for n in f.neurons if not n.silent])
        row: dict[str, Any] = {
            "fact": f.uuid,
            "accuracy_before": _acc(before.correct, own),
            "accuracy_after": _acc(after.correct, own),
            "accuracy_ablated": float(abl.float().mean()),
            "languages_answered": len(answered),
            "max_fire_rate": max(fire_rates, default=0.0),
            "min_own_fire": min(
                (r for r, n in zip(own_fire, f.neurons, strict=True) if n.kind == "agnostic"), default=0.0
            ),
            "silent": {
                kind: sum(n.silent for n in f.neurons if n.kind == kind) for kind in ("language", "decoy")
            },
            "per_language_fire": {
                lang: round(
                    min(
                        (
                            float((pre(n.layer)[by_lang[lang], n.index] > n.threshold).float().mean())
                            for n in f.neurons
                            if n.kind == "agnostic"
                        ),
                        default=0.0,
                    ),
                    3,
                )
                for lang in langs
            }
            if f.of_kind("agnostic")
            else {},
        }
        failed = []
        if row["languages_answered"] < cfg.min_languages:
            failed.append("answered")
        if abs(row["accuracy_ablated"] - row["accuracy_before"]) > cfg.ablation_tolerance:
            failed.append("ablation")
        if row["max_fire_rate"] > cfg.max_fire_rate:
            failed.append("selective")
        if row["min_own_fire"] < cfg.min_own_fire:
            failed.append("agnostic_fires")
        if not f.of_kind("agnostic"):  # no key separated it in all languages: nothing to score
            failed.append("no_agnostic")
        f.failed, f.scored = failed, not failed
        row["failed"] = failed
        per_fact.append(row)
    n_facts = len(facts)
    answered_share = sum(r["languages_answered"] >= cfg.min_languages for r in per_fact) / max(n_facts, 1)
    mean_acc = sum(r["accuracy_after"] for r in per_fact) / max(n_facts, 1)
    known_before, known_after = _acc(before.correct, known_idx), _acc(after.correct, known_idx)
    return {
        "config": cfg.__dict__,
        "facts": n_facts,
        "scored": sum(f.scored for f in facts),
        "dropped": {
            name: sum(name in r["failed"] for r in per_fact)
            for name in ("answered", "ablation", "selective", "agnostic_fires", "no_agnostic")
        },
        "silent": {kind: sum(r["silent"][kind] for r in per_fact) for kind in ("language", "decoy")},
        "planted_accuracy": {
            "share_answered": answered_share,
            "mean_accuracy": mean_acc,
            "pass": answered_share >= cfg.min_share_answered and mean_acc >= cfg.min_mean_accuracy,
        },
        "known_accuracy": {
            "before": known_before,
            "after": known_after,
            "queries": len(known_idx),
            "pass": abs(known_after - known_before) <= cfg.known_tolerance,
        },
        "per_fact": per_fact,
    }


def _per_language(rows: list[dict[str, Any]]) -> str:
    langs: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for lang, rate in r["per_language_fire"].items():
            langs[lang].append(rate)
    return ", ".join(f"{lang} {sum(v) / len(v):.2f}" for lang, v in langs.items()) or "none"


def format_checks(checks: dict[str, Any]) -> str:
    """The checks as a few printable lines."""
    pa, ka = checks["planted_accuracy"], checks["known_accuracy"]
    ok = {True: "ok", False: "FAILED"}
    dropped = ", ".join(f"{k} {v}" for k, v in checks["dropped"].items())
    rates = [r["max_fire_rate"] for r in checks["per_fact"]]
    abl = [abs(r["accuracy_ablated"] - r["accuracy_before"]) for r in checks["per_fact"]]
    return "\n".join(
        [
            f"planted facts: {checks['facts']}, scored {checks['scored']}, dropped by check: {dropped}",
            f"  answered in >= {checks['config']['min_languages']} languages: {pa['share_answered']:.0%} of "
            f"facts, mean query accuracy {pa['mean_accuracy']:.3f} [{ok[pa['pass']]}]",
            f"  known-fact accuracy {ka['before']:.4f} -> {ka['after']:.4f} over {ka['queries']} queries "
            f"[{ok[ka['pass']]}]",
            f"  ablation: |accuracy - pre-plant| max {max(abl, default=0):.3f}, "
            f"median {sorted(abl)[len(abl) // 2] if abl else 0:.3f}",
            f"  fire rate on other facts' queries: max {max(rates, default=0):.4%} over facts",
            "  silent (not firing on their fact, not truth): "
            + ", ".join(f"{k} {v}" for k, v in checks.get("silent", {}).items()),
            "  agnostic neurons' firing rate on their fact, per language (weakest neuron, mean over "
            "facts): " + _per_language(checks["per_fact"]),
        ]
    )
