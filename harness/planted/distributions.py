"""Do planted neurons look like the model's own? Their distributions side by side.

Per planted layer, for the model's own neurons and for the planted ones: key norms, value
norms, the activation at the target position on the neuron's own fact (planted) against the
real neurons' top activation per query, and the background (activation on every other
query: mean, standard deviation, share on GELU's negative side). Also the AP a ranking by
weight norm alone (``|key| · |value|``) reaches against the agnostic neurons: near chance
means that norms do not give the planted neurons away.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import torch

from harness.planted.features import Features, key_params
from harness.planted.metrics import average_precision
from harness.planted.plant import Universe
from harness.planted.truth import PlantedFact

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def _q(t: torch.Tensor) -> list[float]:
    if t.numel() == 0:
        return []
    t = t.flatten().float()
    if t.numel() > 1_000_000:
        t = t[:: t.numel() // 1_000_000 + 1]
    return [round(float(torch.quantile(t, q)), 4) for q in QUANTILES]


def distributions(
    adapter: ModelAdapter, universe: Universe, facts: list[PlantedFact], feats: Features
) -> dict[str, Any]:
    planted_at: dict[int, dict[int, str]] = defaultdict(dict)  # layer -> index -> fact uuid
    kinds: dict[tuple[int, int], str] = {}
    for f in facts:
        for n in f.neurons:
            planted_at[n.layer][n.index] = f.uuid
            kinds[(n.layer, n.index)] = n.kind
    fact_of = universe.fact_of
    out: dict[str, Any] = {"quantiles": list(QUANTILES), "layers": {}}
    for layer, idx_map in sorted(planted_at.items()):
        kp = key_params(adapter, layer)
        keys = kp.keys().detach().float().cpu().norm(dim=1)
        values = adapter.neuron_output_weights(layer).detach().float().cpu().norm(dim=1)
        act = feats.act[:, layer]  # [Q, N]
        own_mask = torch.ones(act.shape[1], dtype=torch.bool)
        own_mask[list(idx_map)] = False
        real = act[:, own_mask]
        on_fact, background = [], []
        for index, uuid in idx_map.items():
            rows = torch.tensor([fact_of[q] == uuid for q in range(len(fact_of))])
            on_fact.append(act[rows, index])
            background.append(act[~rows, index])
        bg = torch.cat(background)
        planted_idx = list(idx_map)
        out["layers"][str(layer)] = {
            "neurons": {"own": int(own_mask.sum()), "planted": len(planted_idx)},
            "key_norm": {"own": _q(keys[own_mask]), "planted": _q(keys[planted_idx])},
            "value_norm": {"own": _q(values[own_mask]), "planted": _q(values[planted_idx])},
            "top_activation": {
                "own_max_per_query": _q(real.max(1).values),
                "planted_on_own_fact": _q(torch.cat(on_fact)),
            },
            "background": {
                "own": {
                    "mean": float(real.mean()),
                    "std": float(real.std()),
                    "negative_share": float((real < 0).float().mean()),
                },
                "planted": {
                    "mean": float(bg.mean()),
                    "std": float(bg.std()),
                    "negative_share": float((bg < 0).float().mean()),
                },
            },
        }
    out["norm_only_ap"] = _norm_only_ap(adapter, facts)
    return out


def _norm_only_ap(adapter: ModelAdapter, facts: list[PlantedFact]) -> dict[str, float]:
    """Mean AP over facts of one fixed ranking of all neurons by ``|key| · |value|``."""
    score = torch.stack(
        [
            key_params(adapter, layer).keys().detach().float().cpu().norm(dim=1)
            * adapter.neuron_output_weights(layer).detach().float().cpu().norm(dim=1)
            for layer in range(adapter.n_layers)
        ]
    )  # [L, N]
    order = torch.argsort(score.flatten(), descending=True, stable=True)
    n = score.shape[1]
    ranked = [(int(i) // n, int(i) % n) for i in order]
    aps = [average_precision(ranked, f.of_kind("agnostic")) for f in facts if f.of_kind("agnostic")]
    return {"mean": sum(aps) / len(aps) if aps else float("nan"), "facts": len(aps)}


def format_distributions(d: dict[str, Any]) -> str:
    lines = [f"distributions (quantiles {', '.join(str(q) for q in d['quantiles'])}):"]
    for layer, s in d["layers"].items():
        lines.append(f"  layer {layer}: {s['neurons']['planted']} planted of {sum(s['neurons'].values())}")
        for what in ("key_norm", "value_norm"):
            lines.append(f"    {what:<11} own {s[what]['own']}  planted {s[what]['planted']}")
        ta = s["top_activation"]
        lines.append(
            f"    activation  own max/query {ta['own_max_per_query']}  "
            f"planted on its fact {ta['planted_on_own_fact']}"
        )
        b = s["background"]
        own, pl = b["own"], b["planted"]
        lines.append(
            f"    background  own mean {own['mean']:.3f} sd {own['std']:.3f} "
            f"neg {own['negative_share']:.0%}; "
            f"planted mean {pl['mean']:.3f} sd {pl['std']:.3f} neg {pl['negative_share']:.0%}"
        )
    lines.append(
        f"  AP of a ranking by |key|·|value| alone: {d['norm_only_ap']['mean']:.4f} "
        f"({d['norm_only_ap']['facts']} facts)"
    )
    return "\n".join(lines)
