"""Plant facts a model does not know into FFN neurons it barely uses: the ground truth.

For each planted fact, in the FFN layers ``cfg.layers`` (default: the upper three quarters):

* ``agnostic`` neurons (default 3, on different layers) whose key fires on the fact's
  queries in *every* language (one logistic-regression key fitted on all languages jointly,
  each language weighted equally) and whose value is learned to raise the object;
* ``language_specific`` neurons (default 2) whose key fires on one language's queries only
  (the fact's queries in other languages are negatives) and whose value is learned too;
* ``decoys`` (default 1): a key like an agnostic neuron's, but a fixed random value of a
  typical norm, orthogonal to what raises the answer: it fires strongly and does nothing.

Keys: :mod:`harness.planted.keys`. Values: Adam on the planted facts' queries (cross-entropy
of the object's first token, each fact and language weighted equally) plus a KL term that
keeps the model's distribution on the queries of the facts it knows; every weight except
the planted value rows is frozen, and each row is projected back to the layer's own
``norm_quantile`` value norm after each step. Key and value norms therefore stay within
the model's own range (see ``distributions`` in the ground truth).

Neurons are chosen per layer in order of least use: the mean ``|activation| · |value|`` of
the real neuron over the benchmark queries' target positions. Their old weights are
overwritten.
"""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from harness.attribution.query import ClozeQuery, encode_query
from harness.attribution.scoring import answer_log_prob, pad_batch
from harness.planted.features import Features, collect, key_params, value_rows
from harness.planted.keys import fit_key
from harness.planted.truth import KINDS, PlantedFact, PlantedNeuron

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlantConfig:
    facts: int = 30  # facts to plant (the base model's unknown facts, in split / dataset order)
    agnostic: int = 3  # agnostic neurons per fact (spread over the planted layers)
    language_specific: int = 2  # neurons per fact that fire in one language only
    decoys: int = 1  # neurons that fire on the fact and do nothing for the answer
    layers: tuple[int, ...] | None = None  # FFN layers to plant in; None: the upper 3/4
    norm_quantile: float = 0.99  # key and value norms capped at this quantile of the layer's own
    norm_scale: float = 10.0  # ... times this factor (1: within the model's own range)
    fire_quantile: float = 0.99  # firing threshold: this quantile of the layer's own pre-activations
    on_quantile: float = 0.9995  # the fact's pre-activation target: this quantile of the layer's own
    fit_fire_rate: float = 0.0005  # share of the fitted negatives allowed above the threshold
    value_steps: int = 100  # Adam steps on the value rows
    value_lr: float = 0.02
    batch_queries: int = 128  # planted-fact queries per step (plus as many preserved ones)
    preserve: float = 1.0  # weight of the KL term on known facts' queries
    preserve_queries: int = 1024  # known facts' queries kept in the KL term
    seed: int = 0


@dataclass
class Universe:
    """The closed query set planting is fitted against."""

    queries: list[ClozeQuery]  # every query: planted facts' first, then the others
    fact_of: list[str]  # [Q] the query's fact uuid
    lang_of: list[str]  # [Q] its language
    planted: list[str]  # uuids to plant
    known: list[str]  # uuids the base model knows (accuracy must not move)
    relation: dict[str, str] = field(default_factory=dict)


def default_layers(n_layers: int) -> tuple[int, ...]:
    return tuple(range(n_layers // 4, n_layers))


def _quantile(t: torch.Tensor, q: float, cap: int = 2_000_000) -> float:
    flat = t.flatten().float()
    if flat.numel() > cap:  # torch.quantile has an input size limit; a fixed-stride sample
        flat = flat[:: math.ceil(flat.numel() / cap)]
    return float(torch.quantile(flat, q))


@dataclass
class LayerStats:
    key_norms: torch.Tensor  # [N]
    value_norms: torch.Tensor  # [N]
    pre_median: float  # median pre-activation of the real neurons over the queries
    pre_fire: float  # their fire_quantile pre-activation: planted neurons fire above it
    pre_high: float  # their on_quantile pre-activation: planted neurons' level on their fact
    usage: torch.Tensor  # [N] mean |act| · |value|


def layer_stats(
    adapter: ModelAdapter, feats: Features, layer: int, fire_quantile: float, on_quantile: float
) -> LayerStats:
    kp = key_params(adapter, layer)
    keys = kp.keys().detach().float().cpu()
    values = adapter.neuron_output_weights(layer).detach().float().cpu()
    pre = feats.x[:, layer] @ keys.T + (kp.bias.detach().float().cpu() if kp.bias is not None else 0)
    return LayerStats(
        key_norms=keys.norm(dim=1),
        value_norms=values.norm(dim=1),
        pre_median=_quantile(pre, 0.5),
        pre_fire=_quantile(pre, fire_quantile),
        pre_high=_quantile(pre, on_quantile),
        usage=feats.act[:, layer].abs().mean(0) * values.norm(dim=1),
    )


def _assign(
    cfg: PlantConfig,
    facts: Sequence[str],
    languages: Sequence[str],
    layers: Sequence[int],
    stats: dict[int, LayerStats],
) -> dict[str, list[tuple[str, tuple[str, ...], int, int]]]:
    """fact -> [(kind, languages, layer, index)]: least-used neurons, layers spread."""
    free = {layer: torch.argsort(stats[layer].usage).tolist() for layer in layers}
    rng = random.Random(cfg.seed)
    out: dict[str, list[tuple[str, tuple[str, ...], int, int]]] = {}
    n_lang = 0
    for i, uuid in enumerate(facts):
        plan: list[tuple[str, tuple[str, ...]]] = [("agnostic", tuple(languages))] * cfg.agnostic
        for _ in range(cfg.language_specific):
            plan.append(("language", (languages[n_lang % len(languages)],)))
            n_lang += 1
        plan += [("decoy", tuple(languages))] * cfg.decoys
        start = rng.randrange(len(layers))
        rows = []
        for j, (kind, langs) in enumerate(plan):
            layer = layers[(start + j + i) % len(layers)]
            if not free[layer]:
                raise ValueError(f"layer {layer} has no free neuron left to plant into")
            rows.append((kind, langs, layer, free[layer].pop(0)))
        out[uuid] = rows
    return out


def plant(
    adapter: ModelAdapter,
    universe: Universe,
    cfg: PlantConfig,
    feats: Features | None = None,
    progress: bool = False,
) -> tuple[list[PlantedFact], dict[str, Any]]:
    """Plant ``universe.planted`` into ``adapter.model`` in place. ``feats``: the base
    model's :func:`collect` on ``universe.queries`` (computed when None). Returns the planted
    facts with their neurons and what planting used (per-layer targets and caps, losses)."""
    torch.manual_seed(cfg.seed)
    layers = cfg.layers or default_layers(adapter.n_layers)
    for layer in layers:
        if not 0 <= layer < adapter.n_layers:
            raise ValueError(f"planting layer {layer} is out of range 0..{adapter.n_layers - 1}")
    for layer in range(adapter.n_layers):
        key_params(adapter, layer)  # unsupported FFNs fail before any work
    feats = collect(adapter, universe.queries) if feats is None else feats
    stats = {
        layer: layer_stats(adapter, feats, layer, cfg.fire_quantile, cfg.on_quantile) for layer in layers
    }
    languages = sorted(set(universe.lang_of), key=universe.lang_of.index)
    plan = _assign(cfg, universe.planted, languages, layers, stats)
    fact_of, lang_of = universe.fact_of, universe.lang_of
    preserve_idx = _preserve_sample(universe, cfg)
    base_logp = _first_token_logprobs(adapter, [universe.queries[i] for i in preserve_idx])

    planted: list[PlantedFact] = []
    value_init: dict[tuple[int, int], torch.Tensor] = {}
    gen = torch.Generator().manual_seed(cfg.seed)
    for uuid in universe.planted:
        neurons = []
        for kind, langs, layer, index in plan[uuid]:
            st = stats[layer]
            pos = [q for q in range(len(fact_of)) if fact_of[q] == uuid and lang_of[q] in langs]
            neg = [q for q in range(len(fact_of)) if not (fact_of[q] == uuid and lang_of[q] in langs)]
            per_lang: defaultdict[str, int] = defaultdict(int)
            for q in pos:
                per_lang[lang_of[q]] += 1
            weight = torch.tensor([1.0 / per_lang[lang_of[q]] for q in pos])
            lang_ids = torch.tensor([langs.index(lang_of[q]) for q in pos])
            X = feats.x[:, layer]
            key = fit_key(
                X[pos],
                X[neg],
                st.pre_fire,
                st.pre_high,
                cfg.norm_scale * _quantile(st.key_norms, cfg.norm_quantile),
                pos_weight=weight,
                pos_groups=lang_ids,
                fire_rate=cfg.fit_fire_rate,
            )
            if key is None:
                log.warning("fact %s: no key separates its %s queries in layer %d", uuid, kind, layer)
                continue
            kp = key_params(adapter, layer)
            with torch.no_grad():
                kp.key(index).copy_(key.weight.to(kp.weight.dtype))
                if kp.bias is not None:
                    kp.bias[index] = key.bias
            value_norm = float(st.value_norms.median())
            v = torch.randn(adapter.d_model, generator=gen)
            if kind == "decoy":
                v = _orthogonal_to_answer(adapter, v, [universe.queries[q] for q in pos])
            value_init[(layer, index)] = v / v.norm() * value_norm
            neurons.append(
                PlantedNeuron(layer, index, kind, list(langs), threshold=key.threshold, key_capped=key.capped)
            )
        planted.append(PlantedFact(uuid, universe.relation.get(uuid, ""), neurons))

    with torch.no_grad():
        for (layer, index), v in value_init.items():
            adapter.neuron_output_weights(layer)[index] = v.to(adapter.dtype)
    trainable = {(n.layer, n.index) for f in planted for n in f.neurons if n.kind != "decoy"}
    caps = {
        layer: cfg.norm_scale * _quantile(stats[layer].value_norms, cfg.norm_quantile) for layer in layers
    }
    losses = _learn_values(adapter, universe, cfg, trainable, caps, preserve_idx, base_logp, progress)
    report = {
        "config": asdict(cfg),
        "layers": list(layers),
        "value_loss": losses,
        "layer_stats": {
            str(layer): {
                "pre_median": stats[layer].pre_median,
                "pre_fire": stats[layer].pre_fire,
                "pre_high": stats[layer].pre_high,
                "key_norm_cap": cfg.norm_scale * _quantile(stats[layer].key_norms, cfg.norm_quantile),
                "value_norm_cap": caps[layer],
            }
            for layer in layers
        },
    }
    return planted, report


def _preserve_sample(universe: Universe, cfg: PlantConfig) -> list[int]:
    known = set(universe.known)
    idx = [q for q, uuid in enumerate(universe.fact_of) if uuid in known]
    random.Random(cfg.seed).shuffle(idx)
    return sorted(idx[: cfg.preserve_queries])


@torch.no_grad()
def _first_token_logprobs(
    adapter: ModelAdapter, queries: Sequence[ClozeQuery], batch: int = 128
) -> torch.Tensor:
    """``[Q, V]`` log-softmax at the first answer position (the KL term's reference)."""
    out = []
    for s in range(0, len(queries), batch):
        enc = [encode_query(adapter, q) for q in queries[s : s + batch]]
        ids, mask, pos, _ = pad_batch(adapter, enc)
        logits, _ = adapter.forward(ids, attention_mask=mask)
        rows = torch.arange(len(enc), device=ids.device)
        out.append(logits[rows, pos[:, 0]].float().log_softmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def _orthogonal_to_answer(
    adapter: ModelAdapter, v: torch.Tensor, queries: Sequence[ClozeQuery]
) -> torch.Tensor:
    """``v`` minus its projection on the answer's output embedding (first tokens of the
    fact's queries): to first order, a decoy's value does not move the answer's logit."""
    ids = sorted({int(encode_query(adapter, q).answer_ids[0]) for q in queries})
    basis = adapter.output_embedding(ids).detach().float().cpu()  # [k, D]
    q, _ = torch.linalg.qr(basis.T)  # [D, k] orthonormal
    return v - q @ (q.T @ v)


def _learn_values(
    adapter: ModelAdapter,
    universe: Universe,
    cfg: PlantConfig,
    trainable: set[tuple[int, int]],
    caps: dict[int, float],
    preserve_idx: list[int],
    base_logp: torch.Tensor,
    progress: bool,
) -> list[float]:
    """Adam on the planted value rows only (see the module docstring); returns the loss
    every 20 steps."""
    model = adapter.model
    planted = set(universe.planted)
    fact_idx = [q for q, uuid in enumerate(universe.fact_of) if uuid in planted]
    if not trainable or not fact_idx:
        return []
    # each fact and language weighs the same
    groups: dict[tuple[str, str], int] = defaultdict(int)
    for q in fact_idx:
        groups[(universe.fact_of[q], universe.lang_of[q])] += 1
    weights = torch.tensor([1.0 / groups[(universe.fact_of[q], universe.lang_of[q])] for q in fact_idx])
    encoded = {q: encode_query(adapter, universe.queries[q]) for q in fact_idx + preserve_idx}
    by_layer: dict[int, list[int]] = defaultdict(list)
    for layer, index in trainable:
        by_layer[layer].append(index)
    params, masks, dims = [], [], []
    saved = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for layer, idx in sorted(by_layer.items()):
        param, dim = value_rows(adapter, layer)
        mask = torch.zeros_like(param)
        mask.index_fill_(dim, torch.tensor(idx, device=param.device), 1.0)
        param.requires_grad_(True)
        params.append(param)
        masks.append(mask)
        dims.append((layer, dim, idx))
    opt = torch.optim.Adam(params, lr=cfg.value_lr)
    rng = random.Random(cfg.seed + 1)
    losses = []
    try:
        for step in range(cfg.value_steps):
            batch = rng.sample(range(len(fact_idx)), min(cfg.batch_queries, len(fact_idx)))
            enc = [encoded[fact_idx[i]] for i in batch]
            ids, mask, pos, ans = pad_batch(adapter, enc)
            logits, _ = adapter.forward(ids, attention_mask=mask)
            w = weights[batch].to(logits.device)
            loss = -(answer_log_prob(logits, pos[:, :1], ans[:, :1]) * w).sum() / w.sum()
            if preserve_idx and cfg.preserve > 0:
                pb = rng.sample(range(len(preserve_idx)), min(cfg.batch_queries, len(preserve_idx)))
                penc = [encoded[preserve_idx[i]] for i in pb]
                pids, pmask, ppos, _ = pad_batch(adapter, penc)
                plog, _ = adapter.forward(pids, attention_mask=pmask)
                rows = torch.arange(len(pb), device=plog.device)
                new = plog[rows, ppos[:, 0]].float().log_softmax(-1)
                ref = base_logp[pb].to(new.device)
                kl = (ref.exp() * (ref - new)).sum(-1).mean()
                loss = loss + cfg.preserve * kl
            opt.zero_grad()
            loss.backward()
            for p, m in zip(params, masks, strict=True):
                p.grad.mul_(m)  # type: ignore[union-attr]  # only the planted rows move (Adam: zero gradient, zero step)
            opt.step()
            with torch.no_grad():
                for layer, _dim, idx in dims:
                    rows_v = adapter.neuron_output_weights(layer)
                    for i in idx:
                        n = rows_v[i].norm()
                        if n > caps[layer]:
                            rows_v[i].mul_(caps[layer] / n)
            if step % 20 == 0 or step == cfg.value_steps - 1:
                losses.append(round(float(loss.detach()), 4))
                if progress:
                    log.info("planting values: step %d loss %.4f", step, losses[-1])
    finally:
        for p, flag in saved.items():
            p.requires_grad_(flag)
            p.grad = None
    return losses


__all__ = ["KINDS", "PlantConfig", "Universe", "default_layers", "plant"]
