"""``suppress-enhance`` (paper Fig. 5, Eq. 14): what the LAKNs do to the correct answer.

For every query of the fact, in every language, the probability of the object's first token
is read three times: unedited, with the localizer's neurons set to 0 at the query's target
position (suppress), and with them doubled (enhance). Eq. 14:
``ΔP = (P_after − P_before) / P_before``. By default ΔP is averaged over the queries the
model answers correctly (argmax = the object's first token); ``correct_only=False`` takes all.

Beside Eq. 14 the task measures what a reviewer needs to read it:

- **its own Random**: for every localizer, as many random neurons as it selected for the
  fact (``condition="random"``), on the same queries; the summary gives a paired p-value
  (sign flips over facts) of the localizer against it;
- **specificity**: the same manipulation on the queries of ``other_facts`` unrelated facts
  the model knows (``scope="other"``): neurons that lower every fact are not the fact's;
- **Δlog-odds**: ``logit(P_after) − logit(P_before)`` beside ΔP. Correct queries have
  P near 1, so doubling can add little ΔP; the log-odds have headroom;
- **honest empties**: a localizer that selects no neuron for a fact is recorded as
  ``empty`` (no P_after, no ΔP) and counted per row as ``no_neurons``, never as ΔP = 0.

Every summary value carries a 95 % bootstrap interval over facts and the numbers of facts
and queries behind it (``harness/stats.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypedDict, cast

import torch

from harness.attribution import Prediction, answer_probabilities, predict_batch
from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.registry import register
from harness.stats import cluster_mean, paired_p_value
from harness.tasks.base import TaskContext, manipulated, neuron_pairs
from harness.tasks.output import Count, Figure, Metric, Output
from rml_lama import LANGUAGE_CODES

SUPPRESS = ("set", 0.0)
ENHANCE = ("scale", 2.0)
OTHER_FACTS = 2  # unrelated facts per fact for specificity (--task-option suppress-enhance.other_facts)
EPS = 1e-7  # P is clipped to [EPS, 1 − EPS] for the log-odds (float32 softmax can give 1.0)
METRICS = ("dp_suppress", "dp_enhance", "dlo_suppress", "dlo_enhance")


def relative_change(before: float, after: float) -> float:
    """Eq. 14. ``before`` is a softmax probability, > 0 in float32 unless it underflows."""
    return (after - before) / before if before > 0 else float("nan")


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def log_odds_change(before: float, after: float) -> float:
    """``logit(after) − logit(before)``: the change in log-odds of the answer."""
    return logit(after) - logit(before)


def unedited(ctx: TaskContext, fact: Fact) -> dict[str, list[Prediction]]:
    """Top-1 predictions without intervention, per language (cached per fact)."""
    key = f"predictions:{fact.uuid}"
    if key not in ctx.cache:
        ctx.cache[key] = {
            lang: predict_batch(ctx.adapter, qs, batch_size=ctx.batch_size)
            for lang, qs in fact.queries.items()
        }
    return ctx.cache[key]


def pairs_of(nset: NeuronSet | Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The (layer, index) pairs of a neuron set or of a plain list of pairs, sorted."""
    if isinstance(nset, Sequence):
        return tuple(sorted((int(a), int(b)) for a, b in nset))
    return tuple(sorted(neuron_pairs(nset)))


def as_neuron_set(pairs: Sequence[tuple[int, int]]) -> NeuronSet:
    return NeuronSet(torch.tensor(list(pairs), dtype=torch.long).reshape(-1, 2), torch.zeros(len(pairs)))


def _after(
    ctx: TaskContext, fact: Fact, pairs: tuple[tuple[int, int], ...], wanted: dict[str, list[int]]
) -> dict[str, tuple[list[float], list[float]]]:
    """P after suppress and after enhance for the queries ``wanted[lang]`` of each language,
    all languages in one batched pass per manipulation (cached per fact and neuron set: the
    same set measured for two localizers is measured once)."""
    key = str(("after", fact.uuid, pairs, sorted((lang, tuple(w)) for lang, w in wanted.items())))
    if key not in ctx.cache:
        langs = [lang for lang in wanted if wanted[lang]]
        queries = [fact.queries[lang][i] for lang in langs for i in wanted[lang]]
        nset = as_neuron_set(pairs)
        with manipulated(ctx.adapter, nset, *SUPPRESS):
            p_sup = answer_probabilities(ctx.adapter, queries, batch_size=ctx.batch_size)
        with manipulated(ctx.adapter, nset, *ENHANCE):
            p_enh = answer_probabilities(ctx.adapter, queries, batch_size=ctx.batch_size)
        out, start = {}, 0
        for lang in langs:
            stop = start + len(wanted[lang])
            out[lang] = (p_sup[start:stop], p_enh[start:stop])
            start = stop
        ctx.cache[key] = out
    return ctx.cache[key]


def measure(
    ctx: TaskContext,
    fact: Fact,
    localizer: str,
    nset: NeuronSet | Sequence[tuple[int, int]],
    *,
    condition: str = "own",
    scope: str = "fact",
    keep_excluded: bool = True,
) -> list[dict]:
    """One record per query of ``fact``: P before, after suppress, after enhance, ΔP (Eq. 14)
    and Δlog-odds, for the neurons ``nset``. Only the included queries are manipulated; an
    empty set gives records with ``empty=True`` and no after-values."""
    base = unedited(ctx, fact)
    pairs = pairs_of(nset)
    k = len(pairs)
    included = {lang: [p.correct or not ctx.correct_only for p in base[lang]] for lang in fact.queries}
    wanted = {lang: [i for i, inc in enumerate(inc_l) if inc] for lang, inc_l in included.items()}
    after_all = _after(ctx, fact, pairs, wanted) if k and any(wanted.values()) else {}
    out = []
    for lang in fact.queries:
        preds = base[lang]
        after: dict[int, tuple[float, float]] = {}
        if lang in after_all:
            after = dict(zip(wanted[lang], zip(*after_all[lang], strict=True), strict=True))
        for i, pred in enumerate(preds):
            if not included[lang][i] and not keep_excluded:
                continue
            before = pred.probability
            rec = {
                "localizer": localizer,
                "condition": condition,
                "scope": scope,
                "language": lang,
                "query": i,
                "correct": pred.correct,
                "included": included[lang][i],
                "empty": k == 0,
                "n_neurons": k,
                "p_before": before,
                "p_suppress": math.nan,
                "p_enhance": math.nan,
                **{m: math.nan for m in METRICS},
            }
            if i in after:
                sup, enh = after[i]
                rec.update(
                    p_suppress=sup,
                    p_enhance=enh,
                    dp_suppress=relative_change(before, sup),
                    dp_enhance=relative_change(before, enh),
                    dlo_suppress=log_odds_change(before, sup),
                    dlo_enhance=log_odds_change(before, enh),
                )
            out.append(rec)
    return out


# -- controls and specificity --------------------------------------------------------------


def random_pairs(ctx: TaskContext, fact: Fact, count: int) -> list[tuple[int, int]]:
    """``count`` random neurons for ``fact``: the first ``count`` of a permutation of all
    ``L · N`` neurons seeded by the run seed and the fact (as the ``random`` localizer draws
    them), so every localizer's Random of the same size is the same set."""
    from harness.localizers.random import fact_generator, random_neurons

    shape = (ctx.adapter.n_layers, ctx.adapter.n_neurons)
    return [tuple(p) for p in random_neurons(shape, count, fact_generator(ctx.seed, fact.uuid)).tolist()]


def is_random(name: str, nset: Any) -> bool:
    meta = getattr(nset, "meta", None) or {}
    return name == "random" or meta.get("localizer") == "random"


def chosen(ctx: TaskContext, neurons: Mapping[str, NeuronSet]) -> dict[str, NeuronSet]:
    """The sets of the localizers the user chose (not those added only for another task's
    ``requires``, e.g. the ablation variants), when the run says which (``ctx.chosen``)."""
    return {k: v for k, v in neurons.items() if ctx.chosen is None or k in ctx.chosen}


def other_facts(ctx: TaskContext, fact: Fact, count: int, scan: int = 40) -> list[Fact]:
    """Up to ``count`` unrelated facts (another relation and another object) that the model
    answers correctly in at least one query (any fact when ``correct_only`` is off), in
    seeded order per fact. For the tiny models
    only their ``known`` split is searched. Cached per fact."""
    key = f"others:{fact.uuid}:{count}"
    if key in ctx.cache:
        return ctx.cache[key]
    from harness.tasks.pool import seeded_order

    pool = ctx.pool.facts(list(fact.queries))
    candidates = [u for u in (ctx.splits.known if ctx.splits is not None else pool) if u in pool]
    objects = {q.answer for qs in fact.queries.values() for q in qs}
    out: list[Fact] = []
    for i, uuid in enumerate(seeded_order(candidates, f"{ctx.seed}:{fact.uuid}:other")):
        if len(out) >= count or i >= scan:
            break
        other = pool[uuid]
        if other.uuid == fact.uuid or other.relation == fact.relation:
            continue
        other = dataclasses.replace(
            other, queries={lang: tuple(other.queries[lang]) for lang in fact.queries}
        )
        if any(q.answer in objects for qs in other.queries.values() for q in qs):
            continue
        if not ctx.correct_only or any(p.correct for ps in unedited(ctx, other).values() for p in ps):
            out.append(other)
    ctx.cache[key] = out
    return out


# -- summary -------------------------------------------------------------------------------

ALL = "all"  # the language of the rows pooled over languages
LanguageOrAll = Annotated[str, {"enum": [*LANGUAGE_CODES, ALL]}]


class _DpRowRequired(TypedDict):
    localizer: str
    language: LanguageOrAll
    dp_suppress: float  # mean ΔP (Eq. 14) over the included queries, neurons zeroed
    dp_enhance: float  # the same, neurons doubled
    queries: Count  # included queries of the facts with neurons
    facts: Count  # facts with neurons and at least one included query


class DpRow(_DpRowRequired, total=False):
    """Per (localizer, language); ``language="all"`` pools every language."""

    # optional: older runs and submissions may lack them
    no_neurons: Count  # facts left out because the localizer selected nothing
    facts_total: Count
    neurons: float  # mean set size over the facts measured
    dp_suppress_ci_low: float  # 95 % bootstrap interval over facts (each metric)
    dp_suppress_ci_high: float
    dp_enhance_ci_low: float
    dp_enhance_ci_high: float
    dlo_suppress: float  # mean Δlog-odds of the answer
    dlo_enhance: float
    random_dp_suppress: float  # its own Random (same count, same queries)
    random_dp_enhance: float
    p_dp_suppress: float  # paired sign-flip test against its own Random
    p_dp_enhance: float
    dp_suppress_other: float  # specificity: on unrelated facts' queries
    queries_other: Count
    facts_other: Count


def _per_fact(records: Sequence[dict], metric: str) -> dict[str, tuple[float, int]]:
    """fact → (Σ metric, number of queries) over the records with a finite value."""
    out: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for r in records:
        v = r.get(metric)
        if v is not None and v == v:
            out[r["fact"]][0] += v
            out[r["fact"]][1] += 1
    return {f: (s, c) for f, (s, c) in out.items()}


def estimate(records: Sequence[dict], metric: str, seed: str) -> tuple[Any, dict[str, tuple[float, int]]]:
    per = _per_fact(records, metric)
    facts = sorted(per)
    est = cluster_mean([per[f][0] for f in facts], [per[f][1] for f in facts], seed=seed)
    return est, per


def versus(own: dict[str, tuple[float, int]], control: dict[str, tuple[float, int]], seed: str) -> float:
    """Paired p-value over the facts both have: per-fact means of own vs control."""
    facts = sorted(set(own) & set(control))
    return paired_p_value(
        [own[f][0] / own[f][1] for f in facts], [control[f][0] / control[f][1] for f in facts], seed=seed
    )


def summary_row(
    recs: Sequence[dict],
    controls: Sequence[dict],
    others: Sequence[dict],
    key: str,
    metrics: Sequence[str] = METRICS,
) -> dict:
    """Values, intervals, counts and paired p-values of one cell."""
    included = [r for r in recs if r.get("included", True)]
    # records of runs made before empty sets were marked: an empty set has n_neurons 0
    empty = [r.get("empty", r.get("n_neurons") == 0) for r in included]
    row: dict[str, Any] = {
        "no_neurons": len({r["fact"] for r, e in zip(included, empty, strict=True) if e}),
        "facts_total": len({r["fact"] for r in included}),
    }
    measured = [r for r, e in zip(included, empty, strict=True) if not e]
    sizes = {r["fact"]: r.get("n_neurons", math.nan) for r in measured}
    row["neurons"] = sum(sizes.values()) / len(sizes) if sizes else math.nan  # mean per fact
    for metric in metrics:
        est, per = estimate(measured, metric, f"{key}:{metric}")
        row.update(est.as_dict(metric))
        if metric == "dp_suppress":
            row.update(facts=est.facts, queries=est.queries)
        if controls:
            ctl_est, ctl = estimate(controls, metric, f"{key}:{metric}:random")
            row[f"random_{metric}"] = ctl_est.value
            row[f"p_{metric}"] = versus(per, ctl, f"{key}:{metric}:test")
    if others:
        for metric in ("dp_suppress", "dp_enhance"):
            est, _ = estimate(others, metric, f"{key}:{metric}:other")
            row.update(est.as_dict(f"{metric}_other"))
            if metric == "dp_suppress":
                row.update(facts_other=est.facts, queries_other=est.queries)
    return row


def summarize_dp(records: Sequence[dict], metrics: Sequence[str] = METRICS) -> list[DpRow]:
    """Per (localizer, language) and per localizer over all languages (``language="all"``):
    the mean over included queries of each metric with its 95 % interval over facts,
    ``facts``/``queries`` behind it, ``no_neurons`` (facts whose set was empty), its own
    Random's mean and the paired p-value against it, and the other-facts ΔP."""
    groups: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
    for r in records:
        cond, scope = r.get("condition", "own"), r.get("scope", "fact")
        for lang in (r["language"], ALL):
            groups[(r["localizer"], lang, cond, scope)].append(r)
    rows = []
    keys = sorted(
        {(loc, lang) for loc, lang, cond, scope in groups if cond == "own" and scope == "fact"},
        key=lambda k: (k[0], k[1] == ALL, k[1]),
    )
    for loc, lang in keys:
        if not any(r.get("included", True) for r in groups[(loc, lang, "own", "fact")]):
            continue  # no query to measure (none answered correctly): no row, not a row of NaN
        controls = [r for r in groups.get((loc, lang, "random", "fact"), []) if r.get("included", True)]
        others = [r for r in groups.get((loc, lang, "own", "other"), []) if r.get("included", True)]
        values = summary_row(groups[(loc, lang, "own", "fact")], controls, others, f"{loc}:{lang}", metrics)
        rows.append(cast(DpRow, {"localizer": loc, "language": lang, **values}))
    return rows


def localizer_facts(records: Sequence[dict]) -> dict[str, dict[str, int]]:
    """Per localizer: facts measured and facts with no neurons (whatever the queries)."""
    seen: dict[str, dict[str, bool]] = defaultdict(dict)
    for r in records:
        if r.get("condition", "own") == "own" and r.get("scope", "fact") == "fact":
            seen[r["localizer"]][r["fact"]] = bool(r["empty"])
    return {loc: {"facts": len(f), "no_neurons": sum(f.values())} for loc, f in seen.items()}


def _console(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.console import suppress_enhance

    return suppress_enhance(rows)


_NOTE = (
    "; [95% CI over facts]; * beats the localizer's own Random (as many random neurons, same "
    "queries) at 5% in a paired test; n = facts/queries; – where the localizer selected no neuron "
    "(never shown as 0). The all column pools every language."
)


@register("task", "suppress-enhance")
@dataclass
class SuppressEnhance:
    """ΔP of the correct answer when the LAKNs are zeroed or doubled (Fig. 5, Eq. 14), with
    each localizer's own Random, specificity on other facts and Δlog-odds."""

    other_facts: int = OTHER_FACTS  # unrelated known facts per fact for specificity (0: off)

    name = "suppress-enhance"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=DpRow,
        metrics=(
            Metric(
                "dp_enhance",
                "ΔP when the LAKNs are enhanced (Fig. 5)",
                "pct_change",
                n="queries",
                caption="Relative change of the correct answer's probability (Eq. 14) with the "
                "neurons doubled" + _NOTE,
                slug="enhance",
                ci=True,
                facts="facts",
                better="higher",
            ),
            Metric(
                "dp_suppress",
                "ΔP when the LAKNs are suppressed (Fig. 5)",
                "pct_change",
                n="queries",
                caption="Relative change of the correct answer's probability (Eq. 14) with the "
                "neurons zeroed" + _NOTE,
                slug="suppress",
                ci=True,
                facts="facts",
                better="lower",
            ),
            Metric(
                "dp_suppress_other",
                "Specificity: ΔP on other facts' queries when a fact's LAKNs are suppressed",
                "pct_change",
                n="queries_other",
                slug="suppress-other",
                ci=True,
                facts="facts_other",
                caption="The fact's neurons zeroed on the queries of unrelated "
                "facts the model knows; compare with the own-fact ΔP. [95% CI over facts].",
            ),
            Metric(
                "dlo_enhance",
                "Δlog-odds of the answer when the LAKNs are enhanced",
                "num",
                n="queries",
                slug="enhance-log-odds",
                ci=True,
                facts="facts",
                caption="logit(P_after) − logit(P_before) over the same queries as ΔP: correct "
                "answers have P near 1, so ΔP has little headroom and the log-odds show the "
                "effect. [95% CI over facts].",
            ),
        ),
        prefix="dp",
        pooled=ALL,  # the "all" column pools every language, with its interval (not a mean of cells)
        figures=(
            Figure(
                "delta-p",
                "Mean ΔP per language when the LAKNs are enhanced or "
                "suppressed (Fig. 5; all: every language pooled)",
                "bars",
                x="language",
                panels=(("dp_enhance", "enhance"), ("dp_suppress", "suppress")),
                ylabel="ΔP (%)",
                exclude=("matrice-no-uaq", "matrice-no-ual"),
            ),
        ),
        console=_console,
    )

    def __post_init__(self) -> None:
        if self.other_facts < 0:
            raise ValueError(f"suppress-enhance.other_facts must be >= 0, got {self.other_facts}")

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        others = other_facts(ctx, fact, self.other_facts) if self.other_facts > 0 else []
        out = []
        for loc, nset in neurons.items():
            out += measure(ctx, fact, loc, nset)
            k = len(neuron_pairs(nset))
            if k and not is_random(loc, nset):
                out += measure(
                    ctx, fact, loc, random_pairs(ctx, fact, k), condition="random", keep_excluded=False
                )
            for other in others:
                recs = measure(ctx, other, loc, nset, scope="other", keep_excluded=False)
                out += [dict(r, other_fact=other.uuid) for r in recs]
        return out

    def summarize(self, records: Sequence[dict]) -> list[DpRow]:
        return summarize_dp(records)
