"""``inject`` (paper Table V): teach the model a new fact by fine-tuning only its LAKNs, and
compare with fine-tuning everything (Direct_FT).

**Q_new**: the fact, when the model does not know it. For the tiny models (a ``splits.json``
beside the weights, ``ctx.splits``) that is the ``held_out`` split, the facts
they were never trained on (their first-token accuracy on those is not 0: objects share first
tokens); for any other model it is a fact none of whose queries, in any of the run's
languages, is answered correctly. Other facts get no record.

**Q_old**: the knowledge that must survive. ``old_facts`` facts (option, default 10), the first
in a seeded order of the dataset (``random.Random(seed)``; the tiny models' ``known`` split
only) that the model answers correctly in at least one language; Q_old in language x is
every query in x of these facts that the unedited model answers correctly (so its accuracy
starts at 1). The sample is drawn once per task and model, and cached.

**Fine-tuning**: the fact's queries in every language, completed with the object; the loss is
the mean negative log-likelihood of the object tokens (causal models: teacher forcing after
the prompt; masked models: at the masks, one per object token). Adam (no weight decay),
``steps`` full-batch steps (option, default 20) at ``lr`` (option, default 1e-3), the same for
every method, seeded with the run's seed. The model stays in eval mode (no dropout). The
defaults are in the range of fine-tuning baselines of knowledge editing (FT-L: Adam, 5e-4,
25 steps), a little larger because a few neurons must learn the fact too. On
tiny-gpt-micro (3 held-out facts, en/fi/ja, ~33 neurons per fact) they give Q_new 0.2–0.3
and Q_old 0.7–1.0 for matrice and random, against 1.0 and 0.0–0.7 for Direct_FT; 1e-2
lets the neurons learn the fact (Q_new ≈ 0.9) but wipes out Q_old in so small a model.

* a localizer's row (``matrice``, ``amig``, ...): only the selected neurons' FFN weights
  train: for each selected ``(l, i)``, the slices ``neuron_input_parameters(l)`` give to
  neuron ``i`` (the weights and bias that compute it) and row ``i`` of
  ``neuron_output_weights(l)`` (what it writes). Every other parameter is frozen, and inside
  the trained tensors the gradient is masked to those slices, so with Adam (no decay) nothing
  else moves: a zero gradient gives a zero step.
* ``direct-ft``: every parameter trains.

The touched tensors are copied before and written back after every method (on the CPU for
``direct-ft``), so each method starts from, and leaves, the unedited model.

**Records** (one per Q_new fact, method and language): ``localizer`` (the method),
``language``, ``new_n``/``new_ok``/``new_ok_before`` (the fact's queries in the language and
how many are right after / before fine-tuning), ``old_n``/``old_ok`` (Q_old in the language,
right after fine-tuning), ``trained`` (number of trainable scalars), ``steps``, ``lr``,
``loss_first``, ``loss_last``, ``new_by`` (``split`` or ``predictions``).

**Summary rows** (per method and language): ``new_accuracy`` (mean over facts of
new_ok/new_n), ``new_accuracy_before``, ``old_accuracy`` (mean over facts of old_ok/old_n),
``average`` (of new and old accuracy), ``facts``, ``new_queries``, ``old_queries`` (|Q_old|).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypedDict

import torch

from harness.adapters.base import ModelAdapter
from harness.attribution import ClozeQuery, encode_query, predict_batch
from harness.attribution.scoring import answer_log_prob, pad_batch
from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.options import option
from harness.registry import register
from harness.tasks.base import TaskContext, by_layer, neuron_pairs
from harness.tasks.output import Count, Language, Metric, Output, Rate
from harness.tasks.pool import (
    nanmean,
    owning_parameter,
    ratio,
    restored,
    same_view,
    sample_facts,
)
from harness.tasks.suppress_enhance import unedited

DIRECT_FT = "direct-ft"
DEFAULT_STEPS = 20
DEFAULT_LR = 1e-3
OLD_FACTS = 10

Trainable = dict[str, tuple[torch.nn.Parameter, torch.Tensor | None]]  # name -> (param, mask)


class InjectRow(TypedDict):
    localizer: str  # the method: a localizer or direct-ft
    language: Language
    new_accuracy: Rate  # mean over facts of new_ok / new_n
    new_accuracy_before: Rate
    old_accuracy: Rate  # mean over facts of old_ok / old_n
    average: Rate  # of new and old accuracy
    facts: Count
    new_queries: Count
    old_queries: Count  # |Q_old|


def neuron_slices(adapter: ModelAdapter, neuron_set: NeuronSet) -> Trainable:
    """The parameters that feed and read the set's neurons, each with a bool mask (same
    shape) that is True on the neurons' slices."""
    model = adapter.model
    params: dict[str, torch.nn.Parameter] = {}
    masks: dict[str, torch.Tensor] = {}

    def mask_of(name: str, p: torch.nn.Parameter) -> torch.Tensor:
        if name not in masks:
            params[name], masks[name] = p, torch.zeros_like(p, dtype=torch.bool)
        return masks[name]

    for layer, idx in by_layer(neuron_set).items():
        for npar in adapter.neuron_input_parameters(layer):
            name, p = owning_parameter(model, npar.parameter)
            view = same_view(mask_of(name, p), npar.parameter, p)
            view.index_fill_(npar.dim, idx.to(view.device), True)
        weights = adapter.neuron_output_weights(layer)  # [N, D], maybe a transposed view
        name, p = owning_parameter(model, weights)
        same_view(mask_of(name, p), weights, p)[idx.to(p.device)] = True
    return {name: (params[name], masks[name]) for name in masks}


def all_parameters(adapter: ModelAdapter) -> Trainable:
    return {name: (p, None) for name, p in adapter.model.named_parameters()}


def _batch(adapter: ModelAdapter, queries: Sequence[ClozeQuery]) -> tuple[torch.Tensor, ...]:
    """Right-padded teacher-forced batch: ids, attention mask, answer positions and ids."""
    return pad_batch(adapter, [encode_query(adapter, q, full_object=True) for q in queries])


def finetune(
    adapter: ModelAdapter,
    queries: Sequence[ClozeQuery],
    trainable: Trainable,
    steps: int,
    lr: float,
    seed: int = 0,
) -> list[float]:
    """Full-batch Adam on the object tokens of ``queries``, only ``trainable`` changing (and
    inside a masked tensor only where its mask is True). Edits the model in place; returns
    the loss before each step."""
    if not trainable or steps <= 0 or not queries:
        return []
    torch.manual_seed(seed)
    model = adapter.model
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    hooks = []
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for p, mask in trainable.values():
            p.requires_grad_(True)
            if mask is not None:
                hooks.append(p.register_hook(lambda g, m=mask: g * m.to(g.dtype)))
        opt = torch.optim.Adam([p for p, _ in trainable.values()], lr=lr, weight_decay=0.0)
        ids, attn, pos, ans = _batch(adapter, queries)
        n_tokens = (ans >= 0).sum().clamp(min=1)
        losses = []
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            logits, _ = adapter.forward(ids, attention_mask=attn)
            loss = -answer_log_prob(logits, pos, ans).sum() / n_tokens
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses
    finally:
        for h in hooks:
            h.remove()
        for name, p in model.named_parameters():
            p.requires_grad_(flags[name])
            p.grad = None


def _rate(metric: str, title: str, n: str, caption: str) -> Metric:
    return Metric(
        metric,
        f"Knowledge injection: {title} (Table V)",
        "rate",
        n=n,
        caption=caption,
        slug=metric.removesuffix("_accuracy"),
    )


@register("task", "inject")
@dataclass
class Inject:
    """Accuracy on a new fact (Q_new) and on known ones (Q_old) after fine-tuning only the
    LAKNs, or everything (``direct-ft``) (Table V)."""

    name = "inject"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=InjectRow,
        metrics=(
            _rate(
                "new_accuracy",
                "accuracy on Q_new",
                "new_queries",
                "After fine-tuning only the method's neurons (Direct_FT: every parameter) on a "
                "new fact; n is the number of Q_new queries.",
            ),
            _rate(
                "old_accuracy",
                "accuracy on Q_old",
                "old_queries",
                "Known facts after the injection (1 before); n is |Q_old|.",
            ),
            _rate(
                "average", "mean of Q_new and Q_old accuracy", "facts", "n is the number of injected facts."
            ),
        ),
        row_header="Method",
    )

    steps: int = option(DEFAULT_STEPS, "fine-tuning steps")
    lr: float = option(DEFAULT_LR, "fine-tuning learning rate (Adam)")
    old_facts: int = option(OLD_FACTS, "known facts whose queries make Q_old")
    # Q_old per (model, languages), drawn once
    _old: dict[tuple[int, tuple[str, ...]], dict[str, list[ClozeQuery]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def is_new(self, ctx: TaskContext, fact: Fact) -> str | None:
        """How the fact qualifies as Q_new (``split``/``predictions``), or None."""
        if ctx.splits is not None:
            return "split" if fact.uuid in set(ctx.splits.held_out) else None
        base = unedited(ctx, fact)
        return "predictions" if not any(p.correct for ps in base.values() for p in ps) else None

    def old_queries(self, ctx: TaskContext, languages: tuple[str, ...]) -> dict[str, list[ClozeQuery]]:
        """Q_old per language (see the module docstring), drawn once per model."""
        key = (id(ctx.adapter.model), languages)
        if key in self._old:
            return self._old[key]
        pool = ctx.pool.facts(languages)
        if ctx.splits is not None:
            known = set(ctx.splits.known)
            pool = {u: f for u, f in pool.items() if u in known}
        k = self.old_facts
        out: dict[str, list[ClozeQuery]] = {lang: [] for lang in languages}

        def keep(f: Fact) -> bool:
            right = {}
            for lang in languages:
                preds = predict_batch(ctx.adapter, f.queries[lang], batch_size=ctx.batch_size)
                right[lang] = [q for q, p in zip(f.queries[lang], preds, strict=True) if p.correct]
            if not any(right.values()):
                return False
            for lang, qs in right.items():
                out[lang].extend(qs)
            return True

        sample_facts(pool, k, ctx.seed, keep, scan=20 * k)
        self._old[key] = out
        return out

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        new_by = self.is_new(ctx, fact)
        if new_by is None:
            return []
        steps, lr = self.steps, self.lr
        languages = tuple(fact.queries)
        old = self.old_queries(ctx, languages)
        base = unedited(ctx, fact)
        train_on = [q for qs in fact.queries.values() for q in qs]
        # no neurons: nothing to train, no record (never "0 % injected")
        methods: dict[str, Trainable] = {
            loc: neuron_slices(ctx.adapter, nset) for loc, nset in neurons.items() if len(neuron_pairs(nset))
        }
        methods[DIRECT_FT] = all_parameters(ctx.adapter)
        out = []
        for method, trainable in methods.items():
            touched = {name: p for name, (p, _) in trainable.items()}
            with restored(touched, offload=method == DIRECT_FT):
                losses = finetune(ctx.adapter, train_on, trainable, steps, lr, ctx.seed)
                for lang in languages:
                    mine = predict_batch(ctx.adapter, fact.queries[lang], batch_size=ctx.batch_size)
                    theirs = (
                        predict_batch(ctx.adapter, old[lang], batch_size=ctx.batch_size) if old[lang] else []
                    )
                    out.append(
                        {
                            "localizer": method,
                            "language": lang,
                            "new_n": len(mine),
                            "new_ok": sum(p.correct for p in mine),
                            "new_ok_before": sum(p.correct for p in base[lang]),
                            "old_n": len(theirs),
                            "old_ok": sum(p.correct for p in theirs),
                            "trained": int(
                                sum(
                                    int(m.sum()) if m is not None else p.numel()
                                    for p, m in trainable.values()
                                )
                            ),
                            "steps": steps,
                            "lr": lr,
                            "loss_first": losses[0] if losses else float("nan"),
                            "loss_last": losses[-1] if losses else float("nan"),
                            "new_by": new_by,
                        }
                    )
        return out

    def summarize(self, records: Sequence[dict]) -> list[InjectRow]:
        return summarize_inject(records)


def summarize_inject(records: Sequence[dict]) -> list[InjectRow]:
    """Rows per (method, language); see the module docstring."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["localizer"], r["language"])].append(r)
    rows: list[InjectRow] = []
    for (loc, lang), rs in sorted(groups.items()):
        new = nanmean(ratio(r["new_ok"], r["new_n"]) for r in rs)
        old = nanmean(ratio(r["old_ok"], r["old_n"]) for r in rs)
        rows.append(
            InjectRow(
                localizer=loc,
                language=lang,
                new_accuracy=new,
                new_accuracy_before=nanmean(ratio(r["new_ok_before"], r["new_n"]) for r in rs),
                old_accuracy=old,
                average=(new + old) / 2,
                facts=len(rs),
                new_queries=sum(r["new_n"] for r in rs),
                old_queries=max(r["old_n"] for r in rs),
            )
        )
    return rows
