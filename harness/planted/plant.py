"""Plant facts a model does not know into FFN neurons it barely uses: the ground truth.

The mechanism planted is the one the paper hypothesises: language-specific neurons in the
lower layers feed language-agnostic neurons in the upper layers. Per planted fact ``f``:

* a **relay direction** ``u_f`` in the residual stream, drawn in the subspace where the
  stream varies least (after the last relay layer and at the reading layers' FFN inputs,
  at the queries' target positions; the facts' directions orthogonal to each other):
  nothing else writes much there, so a key that reads ``u_f`` is selective;
* ``relays`` ``language`` neurons per language in the lower layers (``relay_layers``,
  default the lower half): the key fires on that language's queries of ``f`` (one
  language of one fact against every other query: an easy fit) with no fitted negative
  above 0 and the others resting at ``relay_rest`` (GELU ~ 0: a clean relay); the value
  writes ``u_f`` with ``relay_write`` of the residual's median norm (within a cap), plus,
  with ``language_values``, a learned part that raises the answer in that language;
* ``agnostic`` neurons in the upper layers (``layers``, default the upper half) whose key
  reads what the relays wrote — so they fire on ``f`` in every language — and whose value
  is learned to raise the object;
* ``decoys``: a key fitted like an agnostic neuron's, a fixed value of the layer's median
  value norm, orthogonal to the answer's output embeddings and to the relay subspace.

Planting is bottom-up, layer by layer: the chosen neurons are cleared first; then each
layer's keys are fitted (:mod:`harness.planted.keys`) on the FFN inputs of the model as
planted so far, every other query of the closed benchmark set being a negative, and its
learned values are trained (Adam on the planted facts' queries: cross-entropy of the
object's first token, each fact and language weighted equally, plus a KL term that keeps
the model's distribution on the queries of the facts it knows; every other weight frozen;
the learned part of each row kept out of the relay subspace and within ``norm_scale`` ×
the layer's own ``norm_quantile`` value norm) before the next layer's keys are fitted.
How the planted norms and activations compare with the model's own: ``distributions`` in
the ground truth.

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
from harness.planted.finetune import FinetuneConfig, finetune, reference_logprobs
from harness.planted.keys import fit_key
from harness.planted.truth import KINDS, PlantedFact, PlantedNeuron

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlantConfig:
    facts: int = 24  # facts to plant (the base model's unknown facts, in split / dataset order)
    max_known_accuracy: float = 0.2  # a candidate fact the base model answers more often is not planted
    agnostic: int = 4  # agnostic neurons per fact (spread over `layers`)
    relays: int = 2  # language neurons per fact and language (spread over `relay_layers`)
    decoys: int = 1  # neurons that fire on the fact and do nothing for the answer
    relay_layers: tuple[int, ...] | None = None  # language neurons' layers; None: the lower half
    layers: tuple[int, ...] | None = None  # agnostic and decoy neurons' layers; None: the upper half
    readout: str = "fit"  # agnostic keys: "fit" (logistic/hinge) or "shift" (the relay's mean shift)
    relay_rest: float = -3.0  # language neurons' median pre-activation elsewhere (GELU ~ 0 there)
    relay_threshold: float = 0.0  # ... and their highest one on any other query (a clean relay)
    relay_fire_rate: float = 0.0002  # share of the fitted negatives allowed above that
    language_values: bool = True  # language neurons also learn to raise their language's answer
    relay_write: float = 0.25  # a language neuron writes this share of the residual's median norm
    relay_value_scale: float = 6.0  # ... within this many times the layer's own value-norm quantile
    relay_key_scale: float = 6.0  # language neurons' key norm cap, times the layer's own quantile
    relay_dims: int = 0  # the relay subspace's width; 0: 2 x facts (at most half the model width)
    norm_quantile: float = 0.99  # key and value norms capped at this quantile of the layer's own
    norm_scale: float = 2.0  # ... times this factor (1: within the model's own range)
    fire_quantile: float = 0.99  # firing threshold: this quantile of the layer's own pre-activations
    on_quantile: float = 0.9995  # the fact's pre-activation target: this quantile of the layer's own
    fit_fire_rate: float = 0.0005  # share of the fitted negatives allowed above the threshold
    value_steps: int = 100  # Adam steps on the value rows, per layer
    value_lr: float = 0.02
    batch_queries: int = 128  # planted-fact queries per step (plus as many preserved ones)
    preserve: float = 1.0  # weight of the KL term on known facts' queries
    preserve_queries: int = 1024  # known facts' queries kept in the KL term
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)  # the last stage (finetune.py)
    seed: int = 0
    # other (non-target) positions per query added to every key's negatives; 0: none. For
    # masked LMs (harness.planted.model.family_config): the FFN runs at every position and
    # the target is the [MASK] token, so keys fitted there alone fire on ordinary tokens
    context_negatives: int = 0


@dataclass
class Universe:
    """The closed query set planting is fitted against."""

    queries: list[ClozeQuery]  # every query: planted facts' first, then the others
    fact_of: list[str]  # [Q] the query's fact uuid
    lang_of: list[str]  # [Q] its language
    planted: list[str]  # uuids to plant
    known: list[str]  # uuids the base model knows (accuracy must not move)
    relation: dict[str, str] = field(default_factory=dict)


def default_layers(n_layers: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(relay layers, agnostic layers): the lower and the upper half."""
    half = max(1, n_layers // 2)
    return tuple(range(half)), tuple(range(half, n_layers))


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


Slot = tuple[str, tuple[str, ...], int, int]  # kind, languages, layer, neuron index


def _assign(
    cfg: PlantConfig,
    facts: Sequence[str],
    languages: Sequence[str],
    relay_layers: Sequence[int],
    layers: Sequence[int],
    stats: dict[int, LayerStats],
) -> dict[str, list[Slot]]:
    """fact -> its neurons: least-used ones, each kind spread over its layers."""
    free = {layer: torch.argsort(stats[layer].usage).tolist() for layer in {*relay_layers, *layers}}
    out: dict[str, list[Slot]] = {}

    def take(layer: int) -> int:
        if not free[layer]:
            raise ValueError(f"layer {layer} has no free neuron left to plant into")
        return free[layer].pop(0)

    for i, uuid in enumerate(facts):
        rows: list[Slot] = []
        for j, lang in enumerate(languages):
            for k in range(cfg.relays):
                layer = relay_layers[(i + j + k) % len(relay_layers)]
                rows.append(("language", (lang,), layer, take(layer)))
        upper = [("agnostic", tuple(languages))] * cfg.agnostic + [("decoy", tuple(languages))] * cfg.decoys
        for j, (kind, langs) in enumerate(upper):
            layer = layers[(i + j) % len(layers)]
            rows.append((kind, langs, layer, take(layer)))
        out[uuid] = rows
    return out


def relay_directions(
    h: torch.Tensor | Sequence[torch.Tensor], n: int, dims: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` orthonormal directions ``[n, D]`` drawn at random in the ``dims``-dimensional
    subspace where the residual ``h [Q, D]`` varies least (the mean direction of LayerNorm,
    all ones, excluded: LayerNorm removes it), and that subspace's basis ``[dims, D]``.
    ``h`` may be several views of the stream (the residual after the relay layers, the FFN
    inputs of the layers that read it): their covariances, each scaled to unit trace, add
    up, so the subspace is quiet in all of them."""
    views = [h] if isinstance(h, torch.Tensor) else list(h)
    d = views[0].shape[1]
    if not n <= dims <= d - 1:
        raise ValueError(f"relay subspace of {dims} dimensions cannot hold {n} facts in width {d}")
    ones = torch.ones(d, 1) / math.sqrt(d)
    cov = torch.zeros(d, d)
    for v in views:
        c = torch.cov(v.T.float())
        cov += c / c.trace()
    # eigenvectors of the covariance restricted to the complement of the ones direction
    basis, _ = torch.linalg.qr(torch.cat([ones, torch.eye(d)[:, : d - 1]], 1))
    comp = basis[:, 1:]  # [D, D-1] orthonormal, orthogonal to ones
    evals, evecs = torch.linalg.eigh(comp.T @ cov @ comp)
    low = (comp @ evecs[:, :dims]).T  # [dims, D], lowest variance first
    gen = torch.Generator().manual_seed(seed)
    mix, _ = torch.linalg.qr(torch.randn(dims, n, generator=gen))  # [dims, n] orthonormal columns
    return (mix.T @ low).contiguous(), low.contiguous()


def plant(
    adapter: ModelAdapter,
    universe: Universe,
    cfg: PlantConfig,
    feats: Features | None = None,
    progress: bool = False,
) -> tuple[list[PlantedFact], dict[str, Any]]:
    """Plant ``universe.planted`` into ``adapter.model`` in place: the relay stage, then the
    fine-tuning stage (:mod:`harness.planted.finetune`). ``feats``: the base model's
    :func:`collect` on ``universe.queries`` (computed when None). Returns the planted facts
    with their neurons and what planting used (per-layer targets and caps, losses)."""
    reference = base_reference(adapter, universe, cfg)
    facts, report = plant_relay(adapter, universe, cfg, reference, feats, progress)
    report["finetune"] = finetune_stage(adapter, universe, facts, reference, report, cfg, progress)
    return facts, report


def base_reference(adapter: ModelAdapter, universe: Universe, cfg: PlantConfig) -> dict[str, Any]:
    """The base model's answer distributions that both stages keep close to (call it before
    planting): on the relay stage's sample of known facts' queries, and with
    ``finetune.keep_all`` on all of them (``all_keep``)."""
    reference = reference_logprobs(adapter, universe, _preserve_sample(universe, cfg))
    if cfg.finetune.keep_all:
        known = set(universe.known)
        idx = [q for q, uuid in enumerate(universe.fact_of) if uuid in known]
        reference["all_keep_idx"] = idx
        reference["all_keep"] = _first_token_logprobs(adapter, [universe.queries[q] for q in idx])
    return reference


def finetune_stage(
    adapter: ModelAdapter,
    universe: Universe,
    facts: list[PlantedFact],
    reference: dict[str, Any],
    report: dict[str, Any],
    cfg: PlantConfig,
    progress: bool = False,
) -> dict[str, Any]:
    """The fine-tuning stage after :func:`plant_relay`, the agnostic rows within the caps
    that the relay stage used."""
    caps = {int(k): (v["key_norm_cap"], v["value_norm_cap"]) for k, v in report["layer_stats"].items()}
    return finetune(adapter, universe, facts, reference, caps, cfg.finetune, seed=cfg.seed, progress=progress)


def plant_relay(
    adapter: ModelAdapter,
    universe: Universe,
    cfg: PlantConfig,
    reference: dict[str, Any],
    feats: Features | None = None,
    progress: bool = False,
) -> tuple[list[PlantedFact], dict[str, Any]]:
    """The relay stage (the module docstring); ``reference``: :func:`base_reference`."""
    torch.manual_seed(cfg.seed)
    default_relay, default_upper = default_layers(adapter.n_layers)
    relay_layers = tuple(cfg.relay_layers or default_relay)
    layers = tuple(cfg.layers or default_upper)
    for layer in (*relay_layers, *layers):
        if not 0 <= layer < adapter.n_layers:
            raise ValueError(f"planting layer {layer} is out of range 0..{adapter.n_layers - 1}")
    if max(relay_layers) >= min(layers):
        raise ValueError(f"relay layers {relay_layers} must all lie below the agnostic layers {layers}")
    for layer in range(adapter.n_layers):
        key_params(adapter, layer)  # unsupported FFNs fail before any work
    feats = collect(adapter, universe.queries) if feats is None else feats
    all_layers = sorted({*relay_layers, *layers})
    stats = {
        layer: layer_stats(adapter, feats, layer, cfg.fire_quantile, cfg.on_quantile) for layer in all_layers
    }
    languages = sorted(set(universe.lang_of), key=universe.lang_of.index)
    plan = _assign(cfg, universe.planted, languages, relay_layers, layers, stats)
    fact_of, lang_of = universe.fact_of, universe.lang_of
    preserve_idx = reference["keep_idx"]
    base_logp = reference["keep"]
    # the chosen neurons are cleared first: the relay subspace, the readout directions and
    # every key are fitted on the model without them (their old writes, gone once they are
    # overwritten, would otherwise move the quiet directions)
    with torch.no_grad():
        for slots in plan.values():
            for _kind, _langs, layer, index in slots:
                kp = key_params(adapter, layer)
                kp.key(index).zero_()
                if kp.bias is not None:
                    kp.bias[index] = 0.0
                adapter.neuron_output_weights(layer)[index] = 0.0
    feats = collect(adapter, universe.queries, context=cfg.context_negatives, seed=cfg.seed)

    n_facts = len(universe.planted)
    dims = cfg.relay_dims or min(2 * n_facts, adapter.d_model // 2)
    if feats.h is None:
        raise ValueError("planting needs the residual stream: features from collect()")
    views = [feats.h[:, max(relay_layers)], *(feats.x[:, layer] for layer in layers)]
    if feats.ctx is not None:  # quiet at the other positions too, or the readers fire there
        views += [feats.ctx[:, layer] for layer in layers]
    relay, relay_basis = relay_directions(views, n_facts, dims, cfg.seed)
    relay_of = {uuid: relay[i] for i, uuid in enumerate(universe.planted)}
    key_cap = {
        layer: cfg.norm_scale * _quantile(stats[layer].key_norms, cfg.norm_quantile) for layer in all_layers
    }
    caps = {
        layer: cfg.norm_scale * _quantile(stats[layer].value_norms, cfg.norm_quantile) for layer in all_layers
    }
    relay_norm = {
        layer: cfg.relay_value_scale * _quantile(stats[layer].value_norms, cfg.norm_quantile)
        for layer in relay_layers
    }
    relay_size = cfg.relay_write * float(feats.h[:, max(relay_layers)].norm(dim=1).median())
    relay_key_cap = {
        layer: cfg.relay_key_scale * _quantile(stats[layer].key_norms, cfg.norm_quantile)
        for layer in relay_layers
    }
    gen = torch.Generator().manual_seed(cfg.seed)
    neurons_of: dict[str, list[PlantedNeuron]] = {uuid: [] for uuid in universe.planted}
    rows_of_fact: dict[str, list[int]] = defaultdict(list)
    for q, uuid in enumerate(fact_of):
        rows_of_fact[uuid].append(q)
    unfitted = 0
    losses: dict[int, list[float]] = {}
    relay_part: dict[tuple[int, int], torch.Tensor] = {}
    agnostic_slots = {(lay, i) for slots in plan.values() for kind, _l, lay, i in slots if kind == "agnostic"}
    base_x = feats.x
    quiet = {layer: _quiet_subspace(base_x[:, layer], dims) for layer in layers}
    for layer in all_layers:  # bottom-up: each layer's keys see everything planted below it
        st = stats[layer]
        X = feats.x[:, layer]
        ctx = feats.ctx[:, layer] if feats.ctx is not None else X[:0]  # other positions: negatives
        # ... except the fact's own queries' (its subject's tokens carry what its keys read;
        # firing there moves no other fact)
        code = {uuid: i for i, uuid in enumerate(dict.fromkeys(fact_of))}
        ctx_of = feats.ctx_of.tolist() if feats.ctx_of is not None else []
        ctx_code = torch.tensor([code[fact_of[q]] for q in ctx_of] if len(ctx) else [])
        kp = key_params(adapter, layer)
        for uuid in universe.planted:
            for kind, langs, lay, index in plan[uuid]:
                if lay != layer:
                    continue
                lang_set = set(langs)
                pos = [q for q in rows_of_fact[uuid] if lang_of[q] in lang_set]
                if kind == "language":  # the fact's other languages are negatives too
                    neg = [
                        q for q in range(len(fact_of)) if not (fact_of[q] == uuid and lang_of[q] in lang_set)
                    ]
                else:  # the fact's queries are all positives
                    neg = [q for q in range(len(fact_of)) if fact_of[q] != uuid]
                per_lang: defaultdict[str, int] = defaultdict(int)
                for q in pos:
                    per_lang[lang_of[q]] += 1
                direction = None
                if kind != "language" and cfg.readout == "shift":
                    shift = X - base_x[:, layer]
                    direction = _relay_readout(shift[pos], shift[neg], quiet[layer], gen)
                key = fit_key(
                    X[pos],
                    X[neg],
                    cfg.relay_threshold if kind == "language" else st.pre_fire,
                    st.pre_high,
                    relay_key_cap[layer] if kind == "language" else key_cap[layer],
                    pos_weight=torch.tensor([1.0 / per_lang[lang_of[q]] for q in pos]),
                    pos_groups=torch.tensor([langs.index(lang_of[q]) for q in pos]),
                    fire_rate=cfg.relay_fire_rate if kind == "language" else cfg.fit_fire_rate,
                    rest=cfg.relay_rest if kind == "language" else st.pre_median,
                    direction=direction,
                    context=ctx[ctx_code != code[uuid]] if len(ctx) else None,
                )
                if key is None:
                    unfitted += 1
                    log.warning("fact %s: no %s key separates its queries in layer %d", uuid, kind, layer)
                    continue
                if kind == "language":  # writes `relay_write` of the residual's norm, within a cap
                    act = torch.nn.functional.gelu(X[pos] @ key.weight + key.bias).median().clamp(min=0.1)
                    value = relay_of[uuid] * min(relay_size / float(act), relay_norm[layer])
                    relay_part[(layer, index)] = value
                elif kind == "decoy":
                    v = torch.randn(adapter.d_model, generator=gen)
                    v = v - relay_basis.T @ (relay_basis @ v)
                    v = _orthogonal_to_answer(adapter, v, [universe.queries[q] for q in pos])
                    value = v / v.norm() * float(st.value_norms.median())
                else:  # agnostic: learned below, from a small random start (neurons differ)
                    v = torch.randn(adapter.d_model, generator=gen)
                    value = v / v.norm() * 0.01 * caps[layer]
                with torch.no_grad():
                    kp.key(index).copy_(key.weight.to(kp.weight.dtype))
                    if kp.bias is not None:
                        kp.bias[index] = key.bias
                    adapter.neuron_output_weights(layer)[index] = value.to(adapter.dtype)
                neurons_of[uuid].append(
                    PlantedNeuron(
                        layer, index, kind, list(langs), threshold=key.threshold, key_capped=key.capped
                    )
                )
        trainable = {(n.layer, n.index) for ns in neurons_of.values() for n in ns if n.layer == layer}
        trainable = {p for p in trainable if p in agnostic_slots or (cfg.language_values and p in relay_part)}
        if trainable:  # this layer's values, before the next layer's keys are fitted
            losses[layer] = _learn_values(
                adapter,
                universe,
                cfg,
                trainable,
                caps,
                preserve_idx,
                base_logp,
                progress,
                avoid=relay_basis,
                fixed=relay_part,
            )
        # the next layer's keys read what this one wrote
        feats = collect(adapter, universe.queries, context=cfg.context_negatives, seed=cfg.seed)
        if progress:
            log.info("planting: layer %d written", layer)
    planted = [
        PlantedFact(uuid, universe.relation.get(uuid, ""), neurons_of[uuid]) for uuid in universe.planted
    ]
    report = {
        "config": asdict(cfg),
        "relay_layers": list(relay_layers),
        "layers": list(layers),
        "relay_dims": dims,
        "relay_directions": {uuid: [round(float(v), 6) for v in relay_of[uuid]] for uuid in universe.planted},
        "unfitted_keys": unfitted,
        "value_loss": {str(layer): v for layer, v in losses.items()},
        "layer_stats": {
            str(layer): {
                "pre_median": stats[layer].pre_median,
                "pre_fire": stats[layer].pre_fire,
                "pre_high": stats[layer].pre_high,
                "key_norm_cap": key_cap[layer],
                "value_norm_cap": caps[layer],
                **({"relay_value_norm": relay_norm[layer]} if layer in relay_norm else {}),
            }
            for layer in all_layers
        },
    }
    return planted, report


def _quiet_subspace(x: torch.Tensor, dims: int) -> torch.Tensor:
    """``[dims, D]``: the directions in which the FFN inputs ``x [Q, D]`` vary least."""
    _, evecs = torch.linalg.eigh(torch.cov(x.T))
    return evecs[:, :dims].T.contiguous()


def _relay_readout(
    shift: torch.Tensor,
    shift_neg: torch.Tensor,
    quiet: torch.Tensor,
    gen: torch.Generator,
    jitter: float = 0.0,
) -> torch.Tensor:
    """The key direction of an agnostic neuron or a decoy: the mean shift ``shift [P, D]``
    that planting below moved its fact's FFN inputs by, less the other queries' mean shift
    ``shift_neg [M, D]`` (overwritten neurons moved everything a little): what the relay
    neurons wrote, as the layer sees it, i.e. the largest separation a key of a given norm
    can get. Plus a random
    ``jitter`` share in the directions where the inputs barely vary (``quiet [K, D]``), so
    that neurons reading the same relay are not copies of each other."""
    d = shift.mean(0) - shift_neg.mean(0)
    d = d / d.norm()
    r = quiet.T @ torch.randn(len(quiet), generator=gen)
    r = r - (r @ d) * d
    return d + jitter * r / r.norm() if jitter else d


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
    avoid: torch.Tensor | None = None,
    fixed: dict[tuple[int, int], torch.Tensor] | None = None,
) -> list[float]:
    """Adam on the planted value rows only (see the module docstring); the learned part of
    a row (the row less its ``fixed`` part, e.g. a relay) is kept out of the span of
    ``avoid``'s rows and within the layer's cap. Returns the loss every 20 steps."""
    fixed = fixed or {}
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
                        base = fixed.get((layer, i))
                        part = rows_v[i].float().cpu() - (0 if base is None else base)
                        if avoid is not None:  # keep out of the relay subspace [K, D]
                            part = part - avoid.T @ (avoid @ part)
                        n = float(part.norm())
                        if n > caps[layer]:
                            part = part * (caps[layer] / n)
                        rows_v[i] = (part + (0 if base is None else base)).to(rows_v)
            if step % 20 == 0 or step == cfg.value_steps - 1:
                losses.append(round(float(loss.detach()), 4))
                if progress:
                    log.info("planting values: step %d loss %.4f", step, losses[-1])
    finally:
        for p, flag in saved.items():
            p.requires_grad_(flag)
            p.grad = None
    return losses


__all__ = [
    "KINDS",
    "PlantConfig",
    "Universe",
    "base_reference",
    "default_layers",
    "finetune_stage",
    "plant",
    "plant_relay",
]
