"""Scratch experiment (issue #11): planting by constrained fine-tuning with a knockout contrast.

The relay design (harness.planted.plant) gives selective, language-agnostic planted neurons,
but their values, capped at 2x the model's own norms, cannot lift the answer. Here the model
is fine-tuned after the relay planting, with

    CE(answer | fact's queries, all languages)                     -> the fact is known
  + ko  * KL(base || model with the fact's neurons zeroed) on them  -> knockout brings it back
  + kl  * KL(base || model) on known facts' queries                 -> the rest is kept
  + pull * sum ||theta - theta_0||^2 over every other weight        -> the rest changes little
    (x pull_below for the weights that feed the planted layers' FFN inputs)
  + fire * mean relu(pre - threshold)^2 of each planted neuron on a sample of
    other facts' queries (the query set is closed)                 -> it stays selective

with the designated rows' key and value norms projected back to <= cap x the layer's own 99th
percentile after each step. Variants: ``rows`` trains only the designated neurons' key and
value rows; ``all`` trains every weight (with the pull). Then the existing checks run.

    python benchmarks/planted_knockout.py --facts 4 --variant all --steps 150
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections import defaultdict
from copy import deepcopy
from pathlib import Path

import torch

from harness.adapters import get_adapter
from harness.attribution.query import encode_query
from harness.attribution.scoring import pad_batch
from harness.localizers.base import NeuronSet
from harness.models.loading import load_model
from harness.models.splits import Splits
from harness.planted.checks import format_checks, run_checks
from harness.planted.distributions import distributions
from harness.planted.features import collect, key_params, value_rows
from harness.planted.model import _base_identity, _dataset
from harness.planted.plant import PlantConfig, _first_token_logprobs, _preserve_sample, _quantile, plant
from harness.planted.universe import build_universe, keep_unknown
from harness.tasks.base import manipulated


def _logp_at(adapter, enc):
    ids, mask, pos, ans = pad_batch(adapter, enc)
    targets = torch.tensor([e.target_position for e in enc])
    with adapter.targeting(targets):
        logits, _ = adapter.forward(ids, attention_mask=mask)
    rows = torch.arange(len(enc))
    return logits[rows, pos[:, 0]].float().log_softmax(-1), ans[:, 0]


def _ffn_inputs(adapter, enc, layers):
    """layer -> [B, D] FFN inputs at the target position (differentiable)."""
    ids, mask, _pos, _ans = pad_batch(adapter, enc)
    targets = torch.tensor([e.target_position for e in enc])
    rows = torch.arange(len(enc))
    store, handles = {}, []
    for layer in layers:

        def hook(_m, args, layer=layer):
            store[layer] = args[0][rows, targets].float()

        handles.append(key_params(adapter, layer).module.register_forward_pre_hook(hook))
    try:
        with adapter.targeting(targets):
            adapter.forward(ids, attention_mask=mask)
    finally:
        for h in handles:
            h.remove()
    return store


def _kl(ref, new):
    return (ref.exp() * (ref - new)).sum(-1).mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="tiny-gpt")
    ap.add_argument("--facts", type=int, default=4)
    ap.add_argument("--variant", choices=("rows", "all"), default="all")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ko", type=float, default=1.0, help="weight of the knockout KL")
    ap.add_argument("--kl", type=float, default=1.0, help="weight of the KL on known facts")
    ap.add_argument("--pull", type=float, default=1.0, help="L2 pull of the other weights (variant all)")
    ap.add_argument(
        "--pull-below",
        type=float,
        default=1.0,
        help="x pull for embeddings and blocks below the top planted layer",
    )
    ap.add_argument(
        "--fire", type=float, default=0.0, help="weight of the hinge on other facts' pre-activations"
    )
    ap.add_argument("--margin", type=float, default=0.0, help="hinge margin below the threshold")
    ap.add_argument("--cap", type=float, default=2.0, help="designated rows' norm cap x own q99")
    ap.add_argument("--freeze-keys", action="store_true", help="the designated keys are not trained")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--cache", default="/tmp/planted_ko", help="folder for the relay-planted state")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()

    cfg = PlantConfig(facts=args.facts, norm_scale=args.cap, value_steps=30)
    _, folder = _base_identity(args.base)
    lm = load_model(args.base)
    ad = get_adapter(lm.model, lm.tokenizer)
    splits = Splits.load(folder / "splits.json")
    cands = build_universe(ad, _dataset(None), 3 * cfg.facts, splits, seed=cfg.seed)
    before = collect(ad, cands.queries)
    u = keep_unknown(cands, before.correct, cfg.facts, cfg.max_known_accuracy)
    before = collect(ad, u.queries)
    base_state = deepcopy(ad.model.state_dict())
    # the model's own norms (caps), from the base weights
    caps_k = {}
    caps_v = {}
    for layer in range(ad.n_layers):
        caps_k[layer] = args.cap * _quantile(key_params(ad, layer).keys().detach().float().norm(dim=1), 0.99)
        values = ad.neuron_output_weights(layer).detach().float()
        caps_v[layer] = args.cap * _quantile(values.norm(dim=1), 0.99)

    cache = Path(args.cache) / f"relay-{args.base}-{args.facts}-{args.cap}.pt"
    if cache.exists():
        saved = torch.load(cache, weights_only=False)
        ad.model.load_state_dict(saved["state"])
        facts = saved["facts"]
    else:
        facts, _ = plant(ad, u, cfg, feats=before)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": ad.model.state_dict(), "facts": facts}, cache)
    relay_figs = run_checks(ad, u, deepcopy(facts), before)
    print("relay planting (start of fine-tuning):\n" + format_checks(relay_figs))

    # ---- knockout-contrast fine-tuning ----
    model = ad.model
    planted = set(u.planted)
    fact_idx = [q for q, f in enumerate(u.fact_of) if f in planted]
    groups = defaultdict(int)
    for q in fact_idx:
        groups[(u.fact_of[q], u.lang_of[q])] += 1
    w_fact = torch.tensor([1.0 / groups[(u.fact_of[q], u.lang_of[q])] for q in fact_idx])
    preserve_idx = _preserve_sample(u, cfg)
    enc = {q: encode_query(ad, u.queries[q]) for q in fact_idx + preserve_idx}
    # the hinge's negatives: each planted neuron against the queries of the other facts
    neg_neurons = [(f.uuid, n.layer, n.index, n.threshold) for f in facts for n in f.neurons]
    neg_layers = sorted({lay for _, lay, _, _ in neg_neurons})
    # reference: the base model (pre-plant) on the fact queries and on known ones
    live = deepcopy(model.state_dict())  # the relay-planted model
    model.load_state_dict(base_state)
    base_fact = _first_token_logprobs(ad, [u.queries[q] for q in fact_idx])
    base_keep = _first_token_logprobs(ad, [u.queries[q] for q in preserve_idx])
    model.load_state_dict(live)
    # trained and capped: the agnostic neurons (the relays keep their fixed, larger rows: shrinking
    # them to the cap silences the relay the agnostic keys read)
    designated = {(n.layer, n.index) for f in facts for n in f.neurons if n.kind == "agnostic"}
    all_neurons = [(n.layer, n.index) for f in facts for n in f.neurons]
    ko_set = NeuronSet(torch.tensor(all_neurons).reshape(-1, 2), torch.zeros(len(all_neurons)))
    by_layer = defaultdict(list)
    for layer, i in designated:
        by_layer[layer].append(i)
    kv = {}  # layer -> (key param, dim, bias, value param, dim)
    for layer in by_layer:
        kp = key_params(ad, layer)
        vp, vdim = value_rows(ad, layer)
        kv[layer] = (kp, vp, vdim)
    masks = {}
    if args.variant == "rows":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer, idx in by_layer.items():
            kp, vp, vdim = kv[layer]
            ix = torch.tensor(idx)
            rows = ((vp, vdim),) if args.freeze_keys else ((kp.weight, kp.weight_dim), (vp, vdim))
            for p, dim in rows:
                m = torch.zeros_like(p)
                m.index_fill_(dim, ix, 1.0)
                masks[p] = masks.get(p, 0) + m
                p.requires_grad_(True)
            if kp.bias is not None and not args.freeze_keys:
                m = torch.zeros_like(kp.bias)
                m[ix] = 1.0
                masks[kp.bias] = m
                kp.bias.requires_grad_(True)
    else:
        for p in model.parameters():
            p.requires_grad_(True)
        if args.freeze_keys:  # the designated keys stay as the relay planting fitted them
            for layer, idx in by_layer.items():
                kp = kv[layer][0]
                m = torch.ones_like(kp.weight)
                m.index_fill_(kp.weight_dim, torch.tensor(idx), 0.0)
                masks[kp.weight] = m
                if kp.bias is not None:
                    mb = torch.ones_like(kp.bias)
                    mb[torch.tensor(idx)] = 0.0
                    masks[kp.bias] = mb
    params = [p for p in model.parameters() if p.requires_grad]
    theta0 = {p: p.detach().clone() for p in params}
    # weights above the top planted layer's FFN input keep the plain pull
    top = max(lay for _, lay, _, _ in neg_neurons)
    # below: what feeds the top planted layer's FFN input (embeddings, lower blocks, its attention)
    below = {id(q) for b in ad.blocks()[:top] for q in b.parameters()}
    below |= {id(q) for q in ad.blocks()[top].parameters()} - {
        id(q) for q in key_params(ad, top).module.parameters()
    }
    below -= {id(value_rows(ad, top)[0])}
    below |= {id(q) for q in model.get_input_embeddings().parameters()}
    pull_w = {p: args.pull_below if id(p) in below else 1.0 for p in params}
    print(f"pull x{args.pull_below} on {len(below)} tensors below layer {top}'s keys")
    opt = torch.optim.Adam(params, lr=args.lr)
    rng = random.Random(1)
    model.train(False)
    for step in range(args.steps):
        b = rng.sample(range(len(fact_idx)), min(args.batch, len(fact_idx)))
        e = [enc[fact_idx[i]] for i in b]
        logp, ans = _logp_at(ad, e)
        w = w_fact[b]
        ce = -(logp.gather(1, ans[:, None])[:, 0] * w).sum() / w.sum()
        with manipulated(ad, ko_set, "set", 0.0):
            klogp, _ = _logp_at(ad, e)
        ko = _kl(base_fact[b], klogp)
        pb = rng.sample(range(len(preserve_idx)), min(args.batch, len(preserve_idx)))
        plogp, _ = _logp_at(ad, [enc[preserve_idx[i]] for i in pb])
        keep = _kl(base_keep[pb], plogp)
        loss = ce + args.ko * ko + args.kl * keep
        if args.variant == "all" and args.pull > 0:
            loss = loss + args.pull * sum(pull_w[p] * ((p - theta0[p]) ** 2).sum() for p in params)
        fire = torch.zeros(())
        if args.fire > 0:
            nb = rng.sample(range(len(u.queries)), min(args.batch, len(u.queries)))
            for q in nb:
                if q not in enc:
                    enc[q] = encode_query(ad, u.queries[q])
            xs = _ffn_inputs(ad, [enc[q] for q in nb], neg_layers)
            terms = []
            for uuid, lay, i, thr in neg_neurons:
                other = torch.tensor([u.fact_of[q] != uuid for q in nb])
                kp = kv[lay][0] if lay in kv else key_params(ad, lay)
                pre = xs[lay][other] @ kp.key(i) + (kp.bias[i] if kp.bias is not None else 0.0)
                terms.append(torch.relu(pre - thr + args.margin).pow(2).mean())
            fire = torch.stack(terms).mean()
            loss = loss + args.fire * fire
        opt.zero_grad()
        loss.backward()
        for p, m in masks.items():
            p.grad.mul_(m)
        opt.step()
        with torch.no_grad():  # designated rows within the cap (a projection, not only a penalty)
            for layer, idx in by_layer.items():
                kp, _vp, _ = kv[layer]
                vals = ad.neuron_output_weights(layer)
                for i in idx:
                    for row, cap in ((kp.key(i), caps_k[layer]), (vals[i], caps_v[layer])):
                        n = float(row.norm())
                        if n > cap:
                            row.mul_(cap / n)
        if step % 25 == 0 or step == args.steps - 1:
            print(
                f"step {step}: ce {ce.item():.3f} ko-KL {ko.item():.3f} keep-KL {keep.item():.4f}"
                f" fire {fire.item():.4f}"
            )
    for p in model.parameters():
        p.requires_grad_(False)
        p.grad = None

    figs = run_checks(ad, u, facts, before)
    dist = distributions(ad, u, facts, collect(ad, u.queries))
    with torch.no_grad():
        # what the fine-tuning moved, relative to the relay-planted model
        num = sum(float((p - live[n]).norm() ** 2) for n, p in model.named_parameters())
        den = sum(float(live[n].norm() ** 2) for n, _ in model.named_parameters())
        drift = (num / den) ** 0.5
    print(f"\nknockout fine-tuning, variant {args.variant}, {args.steps} steps:\n" + format_checks(figs))
    ap_norm = dist["norm_only_ap"]["mean"]
    print(f"  AP by |key|*|value| alone: {ap_norm:.4f}; fine-tuning's relative weight change {drift:.4f}")
    print(f"  wall {time.perf_counter() - t0:.0f} s, CPU {time.process_time() - c0:.0f} s (shared machine)")
    if args.out:
        res = {
            "args": vars(args),
            "relay": {k: relay_figs[k] for k in ("planted_accuracy", "known_accuracy", "scored", "dropped")},
            "ft": {k: figs[k] for k in ("planted_accuracy", "known_accuracy", "scored", "dropped")},
            "per_fact": figs["per_fact"],
            "norm_ap": dist["norm_only_ap"],
            "drift": drift,
        }
        Path(args.out).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
