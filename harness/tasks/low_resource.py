"""``enhance-low-resource`` (paper Fig. 6): do the LAKNs carry English knowledge over to the
low-resource languages when they are enhanced?

**Q_error** of a fact in a low-resource language x (fi, hu, ja, ko by default) is the set of
the fact's queries in x that the unedited model answers wrongly (top-1 ≠ the object's first
token), taken only when the model knows the fact in English: a strict majority of its English
queries is answered correctly (option ``english``: ``majority``, the default;
``first``: its first English query; ``all``; ``any``). English queries come from the fact, or
from the dataset when the run does not include English. By definition the accuracy on
Q_error starts at exactly 0.

The fact's LAKNs are then doubled (``manipulated(adapter, nset, "scale", 2.0)``, the
activation at the query's target position times ``factor``, default 2) and the
accuracy on Q_error is read again.

**Records** (one per fact, localizer and low-resource language with a non-empty Q_error):
``localizer``, ``language``, ``q_error`` (its size), ``fixed`` (how many are right when
enhanced), ``queries`` (their indices in the fact's queries of that language),
``n_neurons``, ``english_criterion``, ``factor``; the harness adds ``fact`` and ``relation``.

**Summary rows**, per localizer, language and relation, plus one per localizer and language
with ``relation: "all"``: ``accuracy_before`` (0.0), ``accuracy`` (after enhancing:
Σ fixed / Σ q_error, i.e. over the queries of Q_error), ``queries`` (|Q_error|), ``facts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypedDict, get_args

from harness.attribution import predict_batch
from harness.data import Fact
from harness.localizers.base import NeuronSet
from harness.options import option
from harness.registry import register
from harness.tasks.base import TaskContext, manipulated, neuron_pairs
from harness.tasks.output import Count, Figure, Language, Metric, Output, Rate
from harness.tasks.pool import correct, language_queries, ratio
from harness.tasks.suppress_enhance import unedited
from rml_lama.languages import LOW_RESOURCE, check_languages

ENGLISH = "en"
Criterion = Literal["majority", "first", "all", "any"]
CRITERIA: tuple[str, ...] = get_args(Criterion)


class LowResourceRow(TypedDict):
    localizer: str
    language: Language
    relation: str  # a relation id, or "all" (over every relation)
    accuracy_before: Rate  # 0 by the definition of Q_error
    accuracy: Rate  # Σ fixed / Σ |Q_error|, with the neurons enhanced
    queries: Count  # |Q_error|
    facts: Count


def knows(flags: Sequence[bool], criterion: str = "majority") -> bool:
    """Whether per-query correctness ``flags`` (first query first) mean the model knows the
    fact: ``majority`` (more than half), ``first``, ``all`` or ``any``."""
    if criterion not in CRITERIA:
        raise ValueError(f"english={criterion!r}; valid choices: {', '.join(CRITERIA)}")
    if not flags:
        return False
    if criterion == "first":
        return bool(flags[0])
    if criterion == "all":
        return all(flags)
    if criterion == "any":
        return any(flags)
    return 2 * sum(flags) > len(flags)


def q_error(
    ctx: TaskContext, fact: Fact, criterion: str = "majority", languages: Sequence[str] = LOW_RESOURCE
) -> dict[str, list[int]]:
    """``{language: indices of Q_error}`` for the fact's ``languages`` (empty lists when the
    model does not know the fact in English)."""
    languages = [lang for lang in languages if fact.queries.get(lang)]
    if ENGLISH in fact.queries:
        english = [p.correct for p in unedited(ctx, fact)[ENGLISH]]
    else:
        english = correct(ctx, language_queries(ctx, fact, ENGLISH))
    if not knows(english, criterion):
        return {lang: [] for lang in languages}
    base = unedited(ctx, fact)
    return {lang: [i for i, p in enumerate(base[lang]) if not p.correct] for lang in languages}


@register("task", "enhance-low-resource")
@dataclass
class EnhanceLowResource:
    """Accuracy on Q_error (wrong in fi/hu/ja/ko, known in English) with the LAKNs doubled
    (Fig. 6)."""

    name = "enhance-low-resource"
    requires: ClassVar[tuple[str, ...]] = ()
    output = Output(
        row=LowResourceRow,
        metrics=(
            Metric(
                "accuracy",
                "Low-resource enhancement: accuracy on Q_error (Fig. 6)",
                "rate",
                n="queries",
                slug="accuracy",
                caption="Accuracy on the queries the model answers wrongly in the language "
                "but knows in English (0 before), with the neurons doubled; n is |Q_error|.",
            ),
        ),
        where={"relation": "all"},
        figures=(
            Figure(
                "low-resource",
                "Accuracy on Q_error per low-resource language with the LAKNs enhanced (Fig. 6)",
                "bars",
                x="language",
                panels=(("accuracy", "accuracy on Q_error"),),
                ylabel="accuracy (%)",
                exclude=("matrice-no-uaq", "matrice-no-ual"),
            ),
        ),
    )

    languages: tuple[str, ...] = option(LOW_RESOURCE, "the languages of Q_error (comma-separated)")
    english: Criterion = option("majority", f"how the fact must be known in English: {', '.join(CRITERIA)}")
    factor: float = option(2.0, "the factor the LAKNs are multiplied by")

    def __post_init__(self) -> None:
        self.languages = tuple(check_languages(list(self.languages), "enhance-low-resource.languages"))
        if self.english not in CRITERIA:
            raise ValueError(
                f"enhance-low-resource.english={self.english!r}; valid choices: {', '.join(CRITERIA)}"
            )

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        criterion, factor = self.english, self.factor
        errors = {lang: ix for lang, ix in q_error(ctx, fact, criterion, self.languages).items() if ix}
        out = []
        for loc, nset in neurons.items():
            if not len(neuron_pairs(nset)):
                continue  # no neurons: nothing enhanced, no record (never "0 % fixed")
            for lang, ix in errors.items():
                queries = [fact.queries[lang][i] for i in ix]
                with manipulated(ctx.adapter, nset, "scale", factor):
                    preds = predict_batch(ctx.adapter, queries, batch_size=ctx.batch_size)
                out.append(
                    {
                        "localizer": loc,
                        "language": lang,
                        "q_error": len(ix),
                        "fixed": sum(p.correct for p in preds),
                        "queries": ix,
                        "n_neurons": len(neuron_pairs(nset)),
                        "english_criterion": criterion,
                        "factor": factor,
                    }
                )
        return out

    def summarize(self, records: Sequence[dict]) -> list[LowResourceRow]:
        return summarize_low_resource(records)


def summarize_low_resource(records: Sequence[dict]) -> list[LowResourceRow]:
    """Accuracy on Q_error per (localizer, language, relation) and per (localizer, language)
    over all relations (``relation: "all"``)."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["localizer"], r["language"], r["relation"])].append(r)
        groups[(r["localizer"], r["language"], "all")].append(r)
    rows: list[LowResourceRow] = []

    def order(key: tuple[str, str, str]) -> tuple:
        return key[0], key[1], key[2] != "all", key[2]

    for (loc, lang, rel), rs in sorted(groups.items(), key=lambda kv: order(kv[0])):
        n = sum(r["q_error"] for r in rs)
        rows.append(
            LowResourceRow(
                localizer=loc,
                language=lang,
                relation=rel,
                accuracy_before=0.0,
                accuracy=ratio(sum(r["fixed"] for r in rs), n),
                queries=n,
                facts=len({r["fact"] for r in rs}),
            )
        )
    return rows
