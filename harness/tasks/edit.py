"""``edit-erasure`` and ``edit-update`` (paper Tables III and IV, Eq. 15–18): cross-lingual
knowledge editing through the fact's LAKNs, edited from English and measured in every
language (en→x).

**The edit** (Eq. 15) writes the FFN output weights of the localizer's neurons: row ``i`` of
``adapter.neuron_output_weights(l)`` is what neuron ``n_i^l`` adds to the residual stream.

* erasure: ``W_l[i] ← 0`` for every selected ``(l, i)`` (Dai et al. 2022).
* update: ``W_l[i] ← W_l[i] − λ1·E(o) + λ2·E(o')``, with ``E`` the model's output
  embedding (``adapter.output_embedding``, the unembedding row), ``o`` the first token of the
  fact's English object label and ``o'`` the first token of the new object's English label,
  each as the model tokenizes it after the fact's first English query prefix. Defaults
  ``λ1 = λ2 = 2`` (EleutherAI knowledge-neurons' edit; options ``edit-update.lambda1`` and
  ``edit-update.lambda2``).

**The new object** ``o'`` is drawn from the objects of the same relation in RML-LAMA (the
fact pool, all facts with queries in the run's languages and English), so that it has a label
in every language through its ``object_uri``. mLAMA's typed candidate sets
(``mlama1.1-objects/<lang>.json``) are not used: they are bare, sorted label lists of
different sizes per language (e.g. P19: 325 en, 164 fi, 169 zh labels) with no URI, so a
label cannot be followed from one language to another. The draw: the relation's other
objects (``object_uri ≠ o``'s) sorted by URI, shuffled by ``random.Random(f"{seed}:{uuid}")``,
and the first whose English first token differs from ``o``'s (else the edit would cancel out)
is taken. A fact whose relation has no such object gets no record.

**Honest empties and budgets**: a localizer that selected no neuron for a fact edits nothing,
so the fact gets no record for it (the summary's ``localizers`` counts ``no_neurons``); with
``budget=k`` (``--task-option edit-erasure.budget=10``) each localizer edits its top k neurons
by its own ranking and Random k random ones (see ``suppress-enhance-k``), and a localizer
whose ranking has fewer than k neurons is left out the same way.

**Each edit starts from the unedited weights**: the touched rows are saved before and written
back in a ``finally`` after every (fact, localizer), so the model is restored bit for bit.

**Measures** (per localizer, fact and target language x; "top-1" is the argmax token at the
first answer position, the object's first token for the comparison):

* reliability (Eq. 16): the fact's first query in x gives the expected answer after the edit:
  erasure: the top-1 is no longer ``o``'s first token in x; update: the top-1 is ``o'``'s
  first token in x (the query's prefix completed with ``o'``'s label in x; for masked models
  with one mask per token of that label).
* generality (Eq. 17): the same criterion on the fact's other queries in x (its paraphrases);
  the fact's score is the share of them that pass.
* locality (Eq. 18): the share of unrelated queries whose top-1 is unchanged: the first query
  in x of each of ``locality_facts`` (option, default 10) other facts of *other relations*, the
  first such facts in a seeded order of the fact pool (``random.Random(seed)``), so the same
  facts for every fact of a relation. Their unedited top-1 is computed once and cached.

With ``correct_only`` (the default; ``rml-eval --all-queries`` turns it off), reliability and
generality count only the queries the unedited model answers correctly (top-1 = ``o``'s
first token): a fact the model does not know cannot be erased or updated. Locality counts
every query.

**Records** (one per fact, localizer and language): ``localizer``, ``language``, ``edit``
(erasure/update), ``edit_language``, ``n_neurons``, ``reliability_n``/``reliability_ok``,
``generality_n``/``generality_ok``, ``locality_n``/``locality_ok`` (counts of queries
included / passing); update adds ``new_object`` (the URI) and ``new_label`` (in the
language); the harness adds ``fact`` and ``relation``.

**Summary rows** (per localizer and language): ``reliability``, ``generality``,
``locality`` (each the mean over facts of the fact's pass rate, facts with no included query
left out), ``mean`` (of the three), ``facts`` (facts measured), ``reliability_facts``,
``generality_facts``, ``reliability_queries``, ``generality_queries``, ``locality_queries``,
and ``edit``, ``edit_language``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypedDict

import torch

from harness.adapters.base import ModelAdapter
from harness.attribution import ClozeQuery, predict_batch
from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.options import option
from harness.registry import register
from harness.tasks.base import TaskContext, by_layer, neuron_pairs
from harness.tasks.output import Count, Language, Metric, Output, Rate
from harness.tasks.pool import (
    first_token,
    language_queries,
    nanmean,
    ratio,
    seeded_order,
    with_answer,
)
from harness.tasks.suppress_enhance import unedited

log = logging.getLogger(__name__)

DEFAULT_LAMBDA1 = 2.0
DEFAULT_LAMBDA2 = 2.0
EDIT_LANGUAGE = "en"
LOCALITY_FACTS = 10

RowFn = Callable[[torch.Tensor], torch.Tensor]  # rows [k, D] -> new rows [k, D]


@contextmanager
def edited_rows(adapter: ModelAdapter, neuron_set: NeuronSet, fn: RowFn) -> Iterator[None]:
    """Replace the output-weight rows of the set's neurons by ``fn(rows)`` inside the block,
    layer by layer; the saved rows are written back on exit (exactly)."""
    layers = by_layer(neuron_set)
    views = {layer: adapter.neuron_output_weights(layer) for layer in layers}
    idx = {layer: ix.to(views[layer].device) for layer, ix in layers.items()}
    saved = {layer: views[layer][idx[layer]].detach().clone() for layer in layers}
    try:
        with torch.no_grad():
            for layer in layers:
                views[layer][idx[layer]] = fn(saved[layer]).to(views[layer].dtype)
        yield
    finally:
        with torch.no_grad():
            for layer in layers:
                views[layer][idx[layer]] = saved[layer]


def erase(rows: torch.Tensor) -> torch.Tensor:
    """Eq. 15, erasure: the rows become 0."""
    return torch.zeros_like(rows)


def update(e_old: torch.Tensor, e_new: torch.Tensor, lambda1: float, lambda2: float) -> RowFn:
    """Eq. 15, update: ``row − λ1·E(o) + λ2·E(o')`` for every row (``E`` are ``[D]``)."""

    def fn(rows: torch.Tensor) -> torch.Tensor:
        return rows - lambda1 * e_old.to(rows.dtype) + lambda2 * e_new.to(rows.dtype)

    return fn


def new_object(ctx: TaskContext, fact: Fact, edit_query: ClozeQuery) -> tuple[str, dict[str, str]] | None:
    """``(uri, {language: label})`` of the new object o' (see the module docstring)."""
    languages = [*fact.queries, EDIT_LANGUAGE]
    labels: dict[str, dict[str, str]] = {}
    for other in ctx.pool.facts(languages).values():
        if other.relation != fact.relation or not other.object_uri:
            continue
        if other.object_uri == fact.object_uri or other.object_uri in labels:
            continue
        labels[other.object_uri] = {lang: qs[0].answer for lang, qs in other.queries.items() if qs}
    old = first_token(ctx, edit_query)
    for uri in seeded_order(labels, f"{ctx.seed}:{fact.uuid}"):
        en = labels[uri].get(EDIT_LANGUAGE)
        if en and all(labels[uri].get(lang) for lang in fact.queries):
            if first_token(ctx, with_answer(edit_query, en)) != old:
                return uri, labels[uri]
    return None


class EditRow(TypedDict):
    localizer: str
    language: Language  # the target language x (en→x)
    edit: Literal["erasure", "update"]
    edit_language: Language
    reliability: Rate  # mean over facts of the pass rate (Eq. 16)
    generality: Rate  # (Eq. 17)
    locality: Rate  # (Eq. 18)
    mean: Rate  # of the three
    facts: Count
    reliability_facts: Count
    generality_facts: Count
    reliability_queries: Count
    generality_queries: Count
    locality_queries: Count


def edit_output(kind: str) -> Output:
    caption = (
        "Edits made in English through the localizer's neurons (Eq. 15), tested in each "
        "language: the mean over facts of the share of queries that pass; n is the "
        "number of queries."
    )
    return Output(
        row=EditRow,
        metrics=tuple(
            Metric(m, f"Knowledge {kind}: {m} (Eq. {eq})", "rate", n=f"{m}_queries", caption=caption, slug=m)
            for m, eq in (("reliability", 16), ("generality", 17), ("locality", 18))
        )
        + (
            Metric(
                "mean",
                f"Knowledge {kind}: mean of reliability, generality and locality",
                "rate",
                n="facts",
                caption="n is the number of facts.",
                slug="mean",
            ),
        ),
        column_label="{edit_language}→{language}",
    )


@dataclass
class _EditTask:
    """Shared by erasure and update: the edit, then reliability/generality/locality."""

    name: ClassVar[str] = ""
    edit: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()

    locality_facts: int = option(LOCALITY_FACTS, "facts of other relations checked for locality")
    # a fixed budget: edit each localizer's top k neurons by its own scores (Random: k random
    # neurons) instead of its own set, so methods are compared at equal size (None: own sets)
    budget: int | None = option(None, "edit each localizer's top K neurons (matched budgets; none: own sets)")
    # caches across facts: (model, uuid, lang) -> unedited top-1; (seed, pool) -> seeded order
    _locality_top1: dict[tuple[int, str, str], int] = field(default_factory=dict, init=False, repr=False)
    _order: dict[tuple, list[str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"{self.name}.budget must be at least 1, got {self.budget}")

    # ---- locality ------------------------------------------------------------------------

    def unrelated_facts(self, ctx: TaskContext, fact: Fact) -> list[Fact]:
        """The first ``locality_facts`` facts of other relations in seeded order."""
        k = self.locality_facts
        pool = ctx.pool.facts(list(fact.queries))
        key = (ctx.seed, tuple(pool))
        if key not in self._order:
            self._order = {key: seeded_order(pool, ctx.seed)}
        out: list[Fact] = []
        for uuid in self._order[key]:
            if len(out) >= k:
                break
            if pool[uuid].relation != fact.relation:
                out.append(pool[uuid])
        return out

    def locality_before(self, ctx: TaskContext, facts: list[Fact], lang: str) -> list[int]:
        """Unedited top-1 of each locality fact's first query in ``lang`` (cached)."""
        model = id(ctx.adapter.model)
        missing = [f for f in facts if (model, f.uuid, lang) not in self._locality_top1]
        if missing:
            preds = predict_batch(
                ctx.adapter, [f.queries[lang][0] for f in missing], batch_size=ctx.batch_size
            )
            for f, p in zip(missing, preds, strict=True):
                self._locality_top1[(model, f.uuid, lang)] = p.top_token_id
        return [self._locality_top1[(model, f.uuid, lang)] for f in facts]

    # ---- the edit ------------------------------------------------------------------------

    def row_fn(
        self, ctx: TaskContext, fact: Fact, edit_query: ClozeQuery
    ) -> tuple[RowFn, dict[str, Any]] | None:
        """The edit and the record fields it adds; None to skip the fact."""
        raise NotImplementedError

    def targets(self, queries: Sequence[ClozeQuery], lang: str, extra: dict[str, Any]) -> list[ClozeQuery]:
        """The queries whose top-1 is judged after the edit (their answer = the token to
        compare with)."""
        raise NotImplementedError

    def passes(self, top: int, target: int) -> bool:
        raise NotImplementedError

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        en = language_queries(ctx, fact, EDIT_LANGUAGE)
        if not en:
            log.warning("%s: fact %s has no %s query to edit from", self.name, fact.uuid, EDIT_LANGUAGE)
            return []
        made = self.row_fn(ctx, fact, en[0])
        if made is None:
            return []
        fn, extra = made
        base = unedited(ctx, fact)
        local = self.unrelated_facts(ctx, fact)
        before = {lang: self.locality_before(ctx, local, lang) for lang in fact.queries}
        if self.budget is not None:
            from harness.tasks.budget import at_budget

            neurons = at_budget(ctx, fact, neurons, self.budget)
        out = []
        for loc, nset in neurons.items():
            if not len(neuron_pairs(nset)):
                # no neurons (or fewer than the budget): nothing was edited, so the fact is left
                # out for this localizer (never scored as an edit that failed or "erased 0%");
                # the run's localizer counts say how many facts had none
                continue
            with edited_rows(ctx.adapter, nset, fn):
                for lang, queries in fact.queries.items():
                    judged = self.targets(queries, lang, extra)
                    probe = judged + [f.queries[lang][0] for f in local]
                    preds = predict_batch(ctx.adapter, probe, batch_size=ctx.batch_size)
                    mine, theirs = preds[: len(judged)], preds[len(judged) :]
                    include = [b.correct or not ctx.correct_only for b in base[lang]]
                    ok = [self.passes(p.top_token_id, p.target_token_id) for p in mine]
                    kept = [p.top_token_id == b for p, b in zip(theirs, before[lang], strict=True)]
                    rec = {
                        "localizer": loc,
                        "language": lang,
                        "edit": self.edit,
                        "edit_language": EDIT_LANGUAGE,
                        "n_neurons": len(neuron_pairs(nset)),
                        "reliability_n": int(include[0]),
                        "reliability_ok": int(include[0] and ok[0]),
                        "generality_n": sum(include[1:]),
                        "generality_ok": sum(i and o for i, o in zip(include[1:], ok[1:], strict=True)),
                        "locality_n": len(theirs),
                        "locality_ok": sum(kept),
                    }
                    rec.update({k: (v[lang] if isinstance(v, dict) else v) for k, v in extra.items()})
                    out.append(rec)
        return out

    def summarize(self, records: Sequence[dict]) -> list[EditRow]:
        return summarize_edit(records)


def summarize_edit(records: Sequence[dict]) -> list[EditRow]:
    """Rows per (localizer, language); see the module docstring."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["localizer"], r["language"])].append(r)
    rows: list[EditRow] = []
    for (loc, lang), rs in sorted(groups.items()):
        row: Any = {
            "localizer": loc,
            "language": lang,
            "edit": rs[0]["edit"],
            "edit_language": rs[0]["edit_language"],
        }
        for m in ("reliability", "generality", "locality"):
            row[m] = nanmean(ratio(r[f"{m}_ok"], r[f"{m}_n"]) for r in rs)
        row["mean"] = (row["reliability"] + row["generality"] + row["locality"]) / 3
        row["facts"] = len(rs)
        for m in ("reliability", "generality"):
            row[f"{m}_facts"] = sum(1 for r in rs if r[f"{m}_n"])
        for m in ("reliability", "generality", "locality"):
            row[f"{m}_queries"] = sum(r[f"{m}_n"] for r in rs)
        rows.append(row)
    return rows


@register("task", "edit-erasure")
@dataclass
class EditErasure(_EditTask):
    """Erase a fact by zeroing its LAKNs' output weights, from English (Table III)."""

    name: ClassVar[str] = "edit-erasure"
    edit: ClassVar[str] = "erasure"
    output = edit_output("erasure")

    def row_fn(
        self, ctx: TaskContext, fact: Fact, edit_query: ClozeQuery
    ) -> tuple[RowFn, dict[str, Any]] | None:
        return erase, {}

    def targets(self, queries: Sequence[ClozeQuery], lang: str, extra: dict[str, Any]) -> list[ClozeQuery]:
        return list(queries)

    def passes(self, top: int, target: int) -> bool:
        return top != target  # the original object's first token is no longer the top-1


@register("task", "edit-update")
@dataclass
class EditUpdate(_EditTask):
    """Update a fact o → o' through its LAKNs' output weights, from English (Table IV)."""

    name: ClassVar[str] = "edit-update"
    edit: ClassVar[str] = "update"
    output = edit_output("update")

    lambda1: float = option(DEFAULT_LAMBDA1, "weight λ1 of the removed old-object embedding E(o)")
    lambda2: float = option(DEFAULT_LAMBDA2, "weight λ2 of the added new-object embedding E(o')")

    def row_fn(
        self, ctx: TaskContext, fact: Fact, edit_query: ClozeQuery
    ) -> tuple[RowFn, dict[str, Any]] | None:
        drawn = new_object(ctx, fact, edit_query)
        if drawn is None:
            log.warning("edit-update: no other object of %s for fact %s", fact.relation, fact.uuid)
            return None
        uri, labels = drawn
        old = first_token(ctx, edit_query)
        new = first_token(ctx, with_answer(edit_query, labels[EDIT_LANGUAGE]))
        e = ctx.adapter.output_embedding([old, new]).detach().clone()
        labels = {lang: labels[lang] for lang in fact.queries}
        return update(e[0], e[1], self.lambda1, self.lambda2), {"new_object": uri, "new_label": labels}

    def targets(self, queries: Sequence[ClozeQuery], lang: str, extra: dict[str, Any]) -> list[ClozeQuery]:
        return [with_answer(q, extra["new_label"][lang]) for q in queries]

    def passes(self, top: int, target: int) -> bool:
        return top == target  # the new object's first token is the top-1
