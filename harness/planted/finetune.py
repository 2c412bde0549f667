"""The last stage of planting: knockout-contrast fine-tuning, so the model *uses* its planted neurons.

The relay planting (:mod:`harness.planted.plant`) gives agnostic neurons that fire on their
fact in every language and almost nowhere else, with key and value norms near the model's
own. Within those norms, training their value rows alone cannot lift the answer (the loss
plateaus at the norm cap: docs/ground-truth.md). So every weight is then fine-tuned a
little, with the planted neurons as the route that must carry the fact::

    L =          CE(object | the planted facts' queries)            the facts are known
      + ko     · KL(p_base || p_theta, the fact's planted neurons zeroed)  knocking them out undoes it
      + unlikely · -log(1 - p_theta(object)), the same knockout      ... and the object with it
      + keep   · KL(p_base || p_theta) on known facts' queries       the rest is kept
      + pull   · sum ||theta - theta_0||^2                           the weights change little
      + fire   · mean relu(pre - threshold + margin)^2               planted neurons stay quiet
                 over other facts' queries (a random sample plus       on other facts
                 the hardest ones, re-mined every ``mine_every`` steps)
    + own    · mean relu(threshold + margin - pre)^2               ... and keep firing on
                 over the fact's queries in the neuron's languages     their own

(each fact and language weighted equally in the CE), with the agnostic rows' key and value
norms projected back within the planting's caps after every step. The relay (language)
rows keep their larger, fixed norms: shrinking them silences the relay the agnostic keys
read. Each planted neuron's bias is lowered, where needed, until at most ``recalibrate``
of the other facts' queries reach its threshold (the query set is closed, as for the keys):
at every mining step, so that training adapts to it, and once more at the end.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from harness.attribution.query import EncodedQuery, encode_query
from harness.attribution.scoring import pad_batch
from harness.planted.features import KeyParams, collect, key_params
from harness.planted.truth import PlantedFact, PlantedNeuron

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter
    from harness.planted.plant import Universe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 400  # Adam steps; 0 turns the stage off
    lr: float = 1e-3
    schedule: str = "cosine"  # the rate decays to 0 over the steps; or "constant"
    batch: int = 64  # planted-fact queries per step (and as many known-fact ones, and negatives)
    knockout: float = 3.0  # weight of the knockout KL
    # which neurons the knockout zeroes for a query: its own fact's ("fact"), as the ablation
    # check does, or every planted neuron ("all"; measured: the model then spreads a fact
    # over the other facts' neurons' sub-threshold activity, and zeroing its own leaves it)
    knockout_scope: str = "fact"
    # weight of an unlikelihood term, -log(1 - p(object)) under the same knockout: the KL
    # above hardly sees the object, whose base probability is tiny
    unlikely: float = 1.0
    keep: float = 3.0  # weight of the KL on known facts' queries
    pull: float = 0.1  # L2 pull of every weight to its value before fine-tuning
    fire: float = 10.0  # weight of the hinge on other facts' pre-activations
    own: float = 1.0  # weight of the hinge that keeps each planted neuron firing on its fact
    margin: float = 0.5  # the hinge starts this far below the threshold
    mine_every: int = 25  # re-mine the hardest negatives every this many steps (0: never)
    hard: int = 16  # hardest other-fact queries kept per planted neuron
    hold_language: bool = False  # language rows kept within their relay-stage norms (measured: no help)
    # every weight the language neurons' pre-activations depend on stays fixed (the embeddings,
    # the blocks up to the last relay layer's keys), so they fire as the relay stage wrote
    # them: otherwise their bias recalibration races the training of their keys
    freeze_relay: bool = False  # (measured: the planted facts are then not learned)
    keep_all: bool = False  # the keep KL over every known fact's query, not the relay's sample
    # the biases of language neurons are recalibrated at the end only, not while training
    recalibrate_language: bool = True
    recalibrate: float = 0.0005  # final bias: at most this share of other facts' queries fire (0: off)
    # the fire hinge also covers the other positions of those queries (masked LMs: the FFN
    # runs at every position; see PlantConfig.context_negatives)
    context_hinge: bool = False


KNOCKOUT_SCOPES = ("fact", "all")


class Knockout:
    """The knockout as a per-row intervention: each layer's planted neurons are multiplied by
    0 in a batch row when they belong to that row's fact (scope "fact") or always ("all")."""

    def __init__(self, neurons: Sequence[tuple[str, PlantedNeuron]], fact_code: dict[str, int], scope: str):
        self.scope = scope
        by_layer: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for uuid, n in neurons:
            by_layer[n.layer].append((n.index, fact_code[uuid]))
        self.layers = {
            layer: (torch.tensor([i for i, _ in rows]), torch.tensor([c for _, c in rows]))
            for layer, rows in sorted(by_layer.items())
        }
        for layer, (idx, _) in self.layers.items():  # planting pops each from a free list
            if len(set(idx.tolist())) < len(idx):
                raise ValueError(f"layer {layer}: a neuron is planted for more than one fact")

    def spec(self, codes: torch.Tensor) -> dict[int, tuple[torch.Tensor, str, torch.Tensor]]:
        """``layer -> (neurons, "scale", [B, k] factors)`` for a batch whose rows' facts are
        ``codes [B]``."""
        out = {}
        for layer, (idx, owner) in self.layers.items():
            if self.scope == "all":
                keep = torch.zeros(len(codes), len(idx))
            else:
                keep = (owner[None, :] != codes[:, None]).float()
            out[layer] = (idx, "scale", keep)
        return out


def _kl(ref: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    return (ref.exp() * (ref - new)).sum(-1).mean()


def _unlikelihood(logp: torch.Tensor, ans: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``-log(1 - p(answer))`` over the batch (``logp``: ``[B, V]``)."""
    p = logp.gather(1, ans[:, None])[:, 0].exp().clamp(max=1 - 1e-6)
    return -(torch.log1p(-p) * w).sum() / w.sum()


def _forward(
    adapter: ModelAdapter,
    enc: Sequence[EncodedQuery],
    layers: Sequence[int] = (),
    context: dict[int, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """``[B, V]`` log-softmax at the first answer position, ``[B]`` the answer's first token,
    and ``layer -> [B, D]`` the FFN inputs at the target position (all differentiable).
    ``context``: filled with ``layer -> [M, D]``, the FFN inputs at every other (non-padding)
    position, and ``-1 -> [M]`` each such row's batch row."""
    ids, mask, pos, ans = pad_batch(adapter, enc)
    targets = torch.tensor([e.target_position for e in enc], device=ids.device)
    rows = torch.arange(len(enc), device=ids.device)
    other = mask.bool().clone()
    other[rows, targets] = False
    if context is not None:
        context[-1] = other.nonzero()[:, 0]
    store: dict[int, torch.Tensor] = {}
    handles = []
    for layer in layers:

        def hook(_m: Any, args: tuple, layer: int = layer) -> None:
            store[layer] = args[0][rows, targets].float()
            if context is not None:
                context[layer] = args[0][other].float()

        handles.append(key_params(adapter, layer).module.register_forward_pre_hook(hook))
    try:
        with adapter.targeting(targets):
            logits, _ = adapter.forward(ids, attention_mask=mask)
    finally:
        for h in handles:
            h.remove()
    return logits[rows, pos[:, 0]].float().log_softmax(-1), ans[:, 0], store


def _pre(kp: KeyParams, x: torch.Tensor, index: int) -> torch.Tensor:
    pre = x @ kp.key(index).float()
    return pre + kp.bias[index].float() if kp.bias is not None else pre


def finetune(
    adapter: ModelAdapter,
    universe: Universe,
    facts: list[PlantedFact],
    reference: dict[str, Any],
    caps: dict[int, tuple[float, float]],
    cfg: FinetuneConfig,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune ``adapter.model`` in place (see the module docstring). ``reference``: from
    :func:`reference_logprobs` on the base model; ``caps``: layer -> (key, value) norm cap
    of the agnostic rows. Returns what it did (losses, recalibrated biases, weight change)."""
    if cfg.steps <= 0:
        return {"steps": 0}
    if cfg.schedule not in ("constant", "cosine"):
        raise ValueError(f"FinetuneConfig.schedule must be 'constant' or 'cosine', got {cfg.schedule!r}")
    if cfg.knockout_scope not in KNOCKOUT_SCOPES:
        raise ValueError(
            f"FinetuneConfig.knockout_scope must be one of {KNOCKOUT_SCOPES}, got {cfg.knockout_scope!r}"
        )
    model = adapter.model
    fact_idx = reference["fact_idx"]
    keep_idx, keep_ref = (
        (reference["all_keep_idx"], reference["all_keep"])
        if cfg.keep_all
        else (reference["keep_idx"], reference["keep"])
    )
    fact_of = universe.fact_of
    groups: dict[tuple[str, str], int] = defaultdict(int)
    for q in fact_idx:
        groups[(fact_of[q], universe.lang_of[q])] += 1
    weights = torch.tensor([1.0 / groups[(fact_of[q], universe.lang_of[q])] for q in fact_idx])
    encoded: dict[int, EncodedQuery] = {}

    def enc(qs: Sequence[int]) -> list[EncodedQuery]:
        for q in qs:
            if q not in encoded:
                encoded[q] = encode_query(adapter, universe.queries[q])
        return [encoded[q] for q in qs]

    neurons = [(f.uuid, n) for f in facts for n in f.neurons]
    hinge_layers = sorted({n.layer for _, n in neurons})
    kps = {layer: key_params(adapter, layer) for layer in hinge_layers}  # looked up once
    fact_code = {uuid: i for i, uuid in enumerate(dict.fromkeys(fact_of))}
    code_of = torch.tensor([fact_code[u] for u in fact_of])
    knockout = Knockout(neurons, fact_code, cfg.knockout_scope)
    # row -> (key cap, value cap): the agnostic rows within the planting's caps; with
    # hold_language, the language rows within their own norms as the relay stage wrote them
    capped: dict[tuple[int, int], tuple[float, float]] = {}
    if cfg.freeze_relay:  # their pre-activations cannot move: no hinge to train
        neurons = [(u, n) for u, n in neurons if n.kind != "language"]
    for _, n in neurons:
        if n.kind == "agnostic":
            capped[(n.layer, n.index)] = caps[n.layer]
        elif n.kind == "language" and cfg.hold_language:
            key = key_params(adapter, n.layer).key(n.index)
            value = adapter.neuron_output_weights(n.layer)[n.index]
            capped[(n.layer, n.index)] = (float(key.norm()), float(value.norm()))

    saved = {p: p.requires_grad for p in model.parameters()}
    for p in saved:
        p.requires_grad_(True)
    frozen = relay_inputs(adapter, universe, facts) if cfg.freeze_relay else set()
    params = [p for p in model.parameters() if id(p) not in frozen]
    for p in model.parameters():
        if id(p) in frozen:
            p.requires_grad_(False)
    theta0 = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps) if cfg.schedule == "cosine" else None
    rng = random.Random(seed + 2)
    hard: list[int] = []
    recalibrated = 0
    losses = []
    try:
        model.train(False)
        for step in range(cfg.steps):
            b = rng.sample(range(len(fact_idx)), min(cfg.batch, len(fact_idx)))
            batch = enc([fact_idx[i] for i in b])
            logp, ans, xs = _forward(adapter, batch, hinge_layers if cfg.own > 0 else ())
            w = weights[b].to(logp.device)
            ce = -(logp.gather(1, ans[:, None])[:, 0] * w).sum() / w.sum()
            with adapter.intervene(knockout.spec(code_of[[fact_idx[i] for i in b]]), positions="target"):
                ko_logp, _, _ = _forward(adapter, batch)
            ko = _kl(reference["fact"][b].to(ko_logp.device), ko_logp)
            unlikely = _unlikelihood(ko_logp, ans, w) if cfg.unlikely > 0 else torch.zeros(())
            kb = rng.sample(range(len(keep_idx)), min(cfg.batch, len(keep_idx)))
            keep_logp, _, _ = _forward(adapter, enc([keep_idx[i] for i in kb]))
            keep = _kl(keep_ref[kb].to(keep_logp.device), keep_logp)
            pull = sum(((p - p0) ** 2).sum() for p, p0 in zip(params, theta0, strict=True))
            loss = ce + cfg.knockout * ko + cfg.unlikely * unlikely + cfg.keep * keep + cfg.pull * pull
            own = torch.zeros(())
            if cfg.own > 0:  # the fact's own neurons keep firing on it (decoys too)
                fb = torch.tensor([fact_code[fact_of[fact_idx[i]]] for i in b])
                lb = [universe.lang_of[fact_idx[i]] for i in b]
                terms = []
                for uuid, n in neurons:
                    mine = [j for j in range(len(b)) if fb[j] == fact_code[uuid] and lb[j] in n.languages]
                    if mine:
                        pre = _pre(kps[n.layer], xs[n.layer][mine], n.index)
                        terms.append(torch.relu(n.threshold + cfg.margin - pre).pow(2).mean())
                if terms:
                    own = torch.stack(terms).sum() / len(neurons)
                    loss = loss + cfg.own * own
            fire = torch.zeros(())
            if cfg.fire > 0:
                if cfg.mine_every and step % cfg.mine_every == 0:  # biases follow the drift too
                    moved, hard = recalibrate_and_mine(
                        adapter,
                        universe,
                        facts,
                        cfg.recalibrate if step else 0.0,
                        cfg.hard,
                        cfg.margin + 1.0,
                        kinds=None if cfg.recalibrate_language else ("agnostic", "decoy"),
                    )
                    recalibrated += len(moved)
                negs = rng.sample(range(len(fact_of)), min(cfg.batch, len(fact_of)))
                negs += rng.sample(hard, min(2 * cfg.batch, len(hard)))
                ctx: dict[int, torch.Tensor] | None = {} if cfg.context_hinge else None
                _, _, xs = _forward(adapter, enc(negs), hinge_layers, ctx)
                codes = code_of[negs]
                terms = []
                for uuid, n in neurons:
                    other = (codes != fact_code[uuid]).to(xs[n.layer].device)
                    pre = _pre(kps[n.layer], xs[n.layer][other], n.index)
                    term = torch.relu(pre - n.threshold + cfg.margin).pow(2).mean()
                    if ctx is not None:  # and at those queries' other positions
                        pre = _pre(kps[n.layer], ctx[n.layer][other[ctx[-1]]], n.index)
                        if len(pre):
                            term = term + torch.relu(pre - n.threshold + cfg.margin).pow(2).mean()
                    terms.append(term)
                fire = torch.stack(terms).mean()
                loss = loss + cfg.fire * fire
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            _project(adapter, capped)
            if step % 20 == 0 or step == cfg.steps - 1:
                losses.append(
                    {
                        "step": step,
                        "ce": round(float(ce.detach()), 4),
                        "knockout": round(float(ko.detach()), 4),
                        "unlikely": round(float(unlikely.detach()), 4),
                        "keep": round(float(keep.detach()), 4),
                        "fire": round(float(fire.detach()), 5),
                        "own": round(float(own.detach()), 5),
                    }
                )
                if progress:
                    log.info("planting, fine-tuning: %s", losses[-1])
    finally:
        for p, flag in saved.items():
            p.requires_grad_(flag)
            p.grad = None
    with torch.no_grad():
        change = sum(float(((p - p0) ** 2).sum()) for p, p0 in zip(params, theta0, strict=True))
        norm = sum(float((p0**2).sum()) for p0 in theta0)
    lowered = recalibrate(adapter, universe, facts, cfg.recalibrate) if cfg.recalibrate > 0 else []
    return {
        "config": cfg.__dict__,
        "losses": losses,
        "relative_weight_change": round((change / norm) ** 0.5, 5),
        "biases_lowered_while_training": recalibrated,
        "biases_lowered": lowered,
    }


def relay_inputs(adapter: ModelAdapter, universe: Universe, facts: list[PlantedFact]) -> set[int]:
    """``id`` of every parameter the planted language neurons' pre-activations depend on,
    found by autograd on a batch of the planted facts' queries: the embeddings, the blocks
    below the last relay layer, and that layer up to its FFN keys."""
    language = [n for f in facts for n in f.neurons if n.kind == "language"]
    if not language:
        return set()
    planted = set(universe.planted)
    qs = [q for q, u in enumerate(universe.fact_of) if u in planted][:16]
    params = [p for p in adapter.model.parameters() if p.requires_grad]
    layers = sorted({n.layer for n in language})
    _, _, xs = _forward(adapter, [encode_query(adapter, universe.queries[q]) for q in qs], layers)
    total = torch.stack(
        [_pre(key_params(adapter, n.layer), xs[n.layer], n.index).sum() for n in language]
    ).sum()
    grads = torch.autograd.grad(total, params, allow_unused=True)
    return {id(p) for p, g in zip(params, grads, strict=True) if g is not None}


def _project(adapter: ModelAdapter, caps: dict[tuple[int, int], tuple[float, float]]) -> None:
    """Each capped row's key and value norms back within its caps."""
    with torch.no_grad():
        for (layer, i), (key_cap, value_cap) in caps.items():
            kp, values = key_params(adapter, layer), adapter.neuron_output_weights(layer)
            for row, cap in ((kp.key(i), key_cap), (values[i], value_cap)):
                n = float(row.norm())
                if n > cap:
                    row.mul_(cap / n)


@torch.no_grad()
def _other_pre(
    adapter: ModelAdapter, universe: Universe, facts: list[PlantedFact]
) -> Iterator[tuple[PlantedFact, PlantedNeuron, torch.Tensor]]:
    """Yield ``(fact, neuron, pre)``: each planted neuron's pre-activations ``[Q]`` on every
    query, the fact's own set to -inf."""
    feats = collect(adapter, universe.queries)
    fact_of = universe.fact_of
    kps = {layer: key_params(adapter, layer) for layer in range(adapter.n_layers)}
    for f in facts:
        own = torch.tensor([u == f.uuid for u in fact_of])
        for n in f.neurons:
            pre = _pre(kps[n.layer], feats.x[:, n.layer].to(adapter.device), n.index).cpu()
            pre[own] = -float("inf")
            yield f, n, pre


def hardest_negatives(
    adapter: ModelAdapter, universe: Universe, facts: list[PlantedFact], per_neuron: int, within: float
) -> list[int]:
    """The other-fact queries on which some planted neuron comes within ``within`` of its
    threshold, at most ``per_neuron`` per neuron (the highest)."""
    return recalibrate_and_mine(adapter, universe, facts, 0.0, per_neuron, within)[1]


def recalibrate(
    adapter: ModelAdapter, universe: Universe, facts: list[PlantedFact], rate: float
) -> list[dict[str, Any]]:
    """Lower each planted neuron's bias until at most ``rate`` of the other facts' queries
    reach its threshold. Returns the neurons moved and by how much."""
    return recalibrate_and_mine(adapter, universe, facts, rate, 0, 0.0)[0]


def recalibrate_and_mine(
    adapter: ModelAdapter,
    universe: Universe,
    facts: list[PlantedFact],
    rate: float,
    per_neuron: int,
    within: float,
    kinds: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], list[int]]:
    """One pass over the closed query set: :func:`recalibrate` (``rate`` > 0; only neurons
    of ``kinds``, if given), then :func:`hardest_negatives` under the lowered biases
    (``per_neuron`` > 0)."""
    lowered, hard = [], set()
    for f, n, pre in _other_pre(adapter, universe, facts):
        kp = key_params(adapter, n.layer)
        others = pre[torch.isfinite(pre)]
        if rate > 0 and len(others) and kp.bias is not None and (kinds is None or n.kind in kinds):
            level = float(torch.quantile(others, 1 - rate))
            if level > n.threshold:
                shift = level - n.threshold + 1e-4
                with torch.no_grad():
                    kp.bias[n.index] -= shift
                pre = pre - shift
                lowered.append(
                    {
                        "fact": f.uuid,
                        "layer": n.layer,
                        "index": n.index,
                        "kind": n.kind,
                        "by": round(shift, 4),
                    }
                )
        if per_neuron > 0:
            top = pre.topk(min(per_neuron, len(pre)))
            hard |= {int(q) for q, v in zip(top.indices, top.values, strict=True) if v > n.threshold - within}
    return lowered, sorted(hard)


@torch.no_grad()
def reference_logprobs(adapter: ModelAdapter, universe: Universe, keep_idx: list[int]) -> dict[str, Any]:
    """The base model's answer distributions, before planting: on the planted facts' queries
    (the knockout KL's target) and on ``keep_idx`` known facts' queries."""
    from harness.planted.plant import _first_token_logprobs

    planted = set(universe.planted)
    fact_idx = [q for q, u in enumerate(universe.fact_of) if u in planted]
    return {
        "fact_idx": fact_idx,
        "keep_idx": keep_idx,
        "fact": _first_token_logprobs(adapter, [universe.queries[q] for q in fact_idx]),
        "keep": _first_token_logprobs(adapter, [universe.queries[q] for q in keep_idx]),
    }
