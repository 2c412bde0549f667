"""Experiment (issue #11): the fine-tuning stage of planting, on a cached relay planting.

Plants ``--facts`` facts into ``--base`` with the relay stage only (cached under ``--cache``,
keyed by the base model's folder), then runs :func:`harness.planted.finetune.finetune` with
the options given and prints the checks, the firing rates per kind of neuron and what a
ranking by norms alone finds. For trying the stage's settings without rebuilding the relay.

    python benchmarks/planted_knockout.py --facts 4 --steps 100 --knockout 3
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from copy import deepcopy
from dataclasses import fields, replace
from pathlib import Path

import torch

from harness.adapters import get_adapter
from harness.models.loading import load_model
from harness.models.splits import Splits
from harness.planted.checks import format_checks, run_checks
from harness.planted.distributions import distributions
from harness.planted.features import collect, key_params, pre_activations
from harness.planted.finetune import FinetuneConfig, finetune, reference_logprobs
from harness.planted.model import _base_identity, _dataset, family_config
from harness.planted.plant import PlantConfig, _preserve_sample, _quantile, plant
from harness.planted.universe import build_universe, keep_unknown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="tiny-gpt")
    ap.add_argument("--facts", type=int, default=4)
    ap.add_argument("--cap", type=float, default=2.0, help="norm_scale of the relay planting")
    ap.add_argument(
        "--context",
        type=int,
        default=None,
        help="context_negatives of the relay planting (default: the base's family_config)",
    )
    for f in fields(FinetuneConfig):
        kind = type(f.default)
        if kind is bool:  # "--context-hinge 1" / "true"
            kind = lambda s: s.lower() in ("1", "true", "yes")  # noqa: E731
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    ap.add_argument("--cache", default="/tmp/planted_ko", help="folder for the relay-planted state")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--save", default=None, help="save the fine-tuned state and facts here (torch.save)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    t0, c0 = time.perf_counter(), time.process_time()
    ft = FinetuneConfig(**{f.name: getattr(args, f.name) for f in fields(FinetuneConfig)})
    context = family_config(args.base).context_negatives if args.context is None else args.context
    cfg = PlantConfig(
        facts=args.facts, norm_scale=args.cap, finetune=replace(ft, steps=0), context_negatives=context
    )
    name, folder = _base_identity(args.base)
    if folder is None:
        raise SystemExit(f"{args.base}: a tiny model (with a splits.json) is needed here")
    lm = load_model(args.base)
    ad = get_adapter(lm.model, lm.tokenizer)
    splits = Splits.load(folder / "splits.json")
    cands = build_universe(ad, _dataset(None), 3 * cfg.facts, splits, seed=cfg.seed)
    u = keep_unknown(cands, collect(ad, cands.queries).correct, cfg.facts, cfg.max_known_accuracy)
    before = collect(ad, u.queries)
    reference = reference_logprobs(ad, u, _preserve_sample(u, cfg))
    base_caps = {  # what plant() computes from the base model's own norms
        layer: (
            cfg.norm_scale
            * _quantile(key_params(ad, layer).keys().detach().float().norm(dim=1), cfg.norm_quantile),
            cfg.norm_scale
            * _quantile(ad.neuron_output_weights(layer).detach().float().norm(dim=1), cfg.norm_quantile),
        )
        for layer in range(ad.n_layers)
    }
    tail = f"-ctx{context}" if context else ""  # (the name of a default-config cache is unchanged)
    cache = Path(args.cache) / f"relay-{name}-{args.facts}-{args.cap}{tail}.pt"
    if cache.exists():
        saved = torch.load(cache, weights_only=False)
        ad.model.load_state_dict(saved["state"])
        facts, report = saved["facts"], saved.get("report")
    else:
        facts, report = plant(ad, u, cfg, feats=before)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": ad.model.state_dict(), "facts": facts, "report": report}, cache)
    print("relay planting:\n" + format_checks(run_checks(ad, u, deepcopy(facts), before)))
    caps = (
        base_caps
        if report is None
        else {int(k): (v["key_norm_cap"], v["value_norm_cap"]) for k, v in report["layer_stats"].items()}
    )
    tuned = finetune(ad, u, facts, reference, caps, ft, progress=True)
    for row in tuned.get("losses", []):
        print(row)
    lowered, change = len(tuned.get("biases_lowered", [])), tuned.get("relative_weight_change")
    print(f"biases lowered: {lowered}, weight change {change}")
    if args.save:
        torch.save({"state": ad.model.state_dict(), "facts": facts, "report": report}, args.save)
    figs = run_checks(ad, u, facts, before)
    feats = collect(ad, u.queries)
    kinds: dict[str, list[float]] = defaultdict(list)
    for f in facts:
        others = torch.tensor([x != f.uuid for x in u.fact_of])
        for n in f.neurons:
            pre = pre_activations(ad, feats.x[others, n.layer], n.layer)[:, n.index]
            kinds[n.kind].append(float((pre > n.threshold).float().mean()))
    print(
        "fire on other facts by kind (max, mean):",
        {k: (f"{max(v):.4%}", f"{sum(v) / len(v):.4%}") for k, v in kinds.items()},
    )
    dist = distributions(ad, u, facts, feats)
    print(f"\nfine-tuned ({ft}):\n" + format_checks(figs))
    for r in figs["per_fact"]:
        print(
            f"  {r['fact'][:8]} accuracy {r['accuracy_before']:.3f} -> {r['accuracy_after']:.3f}, "
            f"ablated {r['accuracy_ablated']:.3f}, languages {r['languages_answered']}, "
            f"fire {r['max_fire_rate']:.4%}, own {r['min_own_fire']:.2f}, failed {r['failed']}"
        )
    print(f"  AP by |key|*|value| alone: {dist['norm_only_ap']['mean']:.4f}")
    print(f"  wall {time.perf_counter() - t0:.0f} s, CPU {time.process_time() - c0:.0f} s")
    if args.out:
        res = {"args": vars(args), "checks": figs, "norm_ap": dist["norm_only_ap"], "finetune": tuned}
        Path(args.out).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
