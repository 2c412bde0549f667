"""The build, step by step: facts → templates → validation → queries → rows → folder.

Each step is a function of its own; :func:`build` runs them in order.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from builders import sources as src
from builders.bank import Template, check_provenance, load_bank
from builders.errors import BuildError
from builders.labels import normalize_label
from builders.queries import fill
from builders.validate import (
    Rejection,
    check_query,
    find_duplicates,
    find_shared,
    validate_template,
)
from builders.wrong_labels import WrongLabel, entity_labels, find_wrong_labels, listed_wrong_labels
from rml_lama import (
    DATASET_DIR,
    LANGUAGE_CODES,
    LANGUAGES,
    RELATION_IDS,
    RELATIONS,
    check_languages,
    check_relations,
)

log = logging.getLogger(__name__)

MIN_TEMPLATES = 3  # per (relation, language); the target is 4 or more
# Relations whose subject is a person (French keeps the article of a name: "de Les Paul").
PERSON_SUBJECTS = frozenset(
    rid for rid, r in RELATIONS.items() if re.search(r"\((a person|a musician|an athlete)\)", r.meaning)
)


@dataclass
class BuildConfig:
    sources: Path  # folder with mlama1.1/, pararel/, mpararel/ (see builders.sources)
    out: Path = DATASET_DIR  # dataset folder that receives data/, README.md, manifest.json
    languages: list[str] = field(default_factory=lambda: list(LANGUAGE_CODES))
    relations: list[str] = field(default_factory=lambda: list(RELATION_IDS))
    max_facts_per_relation: int | None = None  # a subset build: the first N facts by lineid
    # cap on facts per (relation, subject), the first by lineid (many-answer relations)
    max_facts_per_subject: int | None = None
    bank_dir: Path | None = None  # the curated bank (default: builders/bank)
    # the templates: the curated bank, those Claude generated (`rml-build generate`), or both
    rephrasings: Literal["curated", "claude", "all"] = "curated"
    generated_dir: Path | None = None  # Claude's generated templates (default: builders/generated)
    progress: bool = True
    allow_empty_sources: bool = False  # a source file without facts is an error unless set

    def __post_init__(self) -> None:
        self.languages = check_languages(self.languages)
        self.relations = check_relations(self.relations)
        if self.max_facts_per_relation is not None and self.max_facts_per_relation < 1:
            raise BuildError("--max-facts must be at least 1")
        if self.max_facts_per_subject is not None and self.max_facts_per_subject < 1:
            raise BuildError("--max-facts-per-subject must be at least 1")
        if self.rephrasings not in ("curated", "claude", "all"):
            raise BuildError(f"--rephrasings {self.rephrasings!r}; valid choices: curated, claude, all")


@dataclass
class Generated:
    """What ``rml-build generate`` left for the build (empty with curated rephrasings)."""

    templates: list[Template] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)  # the generator's
    # (language, uuid) -> queries written for that one fact (Claude's fact integration)
    fact_queries: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def generated_inputs(config: BuildConfig) -> Generated:
    """Claude's templates, rejections and per-fact queries for the selected languages, when
    ``config.rephrasings`` asks for them."""
    out = Generated()
    if config.rephrasings == "curated":
        return out
    from builders.claude.store import load_fact_queries, load_generated, load_generation_rejections

    for lang in config.languages:
        out.templates += load_generated(lang, config.generated_dir)
        out.rejections += load_generation_rejections(lang, config.generated_dir)
        for uuid, queries in load_fact_queries(lang, config.generated_dir).items():
            out.fact_queries[(lang, uuid)] = queries
    return out


@dataclass
class Built:
    rows: dict[str, list[dict]]  # language -> rows
    rejections: list[Rejection]
    templates: dict[tuple[str, str], list[Template]]  # (relation, language) -> accepted


# -- step 1: facts -------------------------------------------------------------------------


@cache
def _read_facts(root: Path, language: str, relation: str, allow_empty: bool = False) -> tuple[src.Fact, ...]:
    """The source facts, read once per build for :func:`collect_facts` and
    :func:`collect_objects`."""
    return tuple(src.read_facts(root, language, relation, allow_empty))


def collect_facts(
    root: Path,
    languages: list[str],
    relations: list[str],
    limit: int | None = None,
    allow_empty: bool = False,
    per_subject: int | None = None,
) -> dict[str, dict[str, dict[str, src.Fact]]]:
    """``{relation: {uuid: {language: Fact}}}`` for the facts present in every language;
    with ``per_subject``, at most that many per subject (the first by mLAMA line)."""
    out: dict[str, dict[str, dict[str, src.Fact]]] = {}
    for rel in relations:
        per_lang = {
            lang: {f.uuid: f for f in _read_facts(root, lang, rel, allow_empty)} for lang in languages
        }
        common = set.intersection(*(set(d) for d in per_lang.values()))
        first = per_lang[languages[0]]
        uuids = sorted(common, key=lambda u: (first[u].lineid, u))
        if per_subject is not None:
            seen: dict[str, int] = defaultdict(int)
            kept = []
            for u in uuids:
                seen[first[u].subject_uri] += 1
                if seen[first[u].subject_uri] <= per_subject:
                    kept.append(u)
            uuids = kept
        if limit is not None:
            uuids = uuids[:limit]
        out[rel] = {u: {lang: per_lang[lang][u] for lang in languages} for u in uuids}
    return out


def collect_objects(
    root: Path,
    languages: list[str],
    relations: list[str],
    allow_empty: bool = False,
    wrong_labels: dict[tuple[str, str], WrongLabel] | None = None,
) -> dict[tuple[str, str, str], list[str]]:
    """``{(language, relation, subject_uri): [object label, ...]}``: every object the
    sources give for a subject and relation in a language (all of mLAMA's facts, not only
    those kept), labels normalized, in source order, without repeats; an object whose
    label is wrong in that language (``wrong_labels``) is not a valid answer."""
    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    wrong_labels = wrong_labels or {}
    for rel in relations:
        for lang in languages:
            for f in _read_facts(root, lang, rel, allow_empty):
                if (f.object_uri, lang) in wrong_labels:
                    continue
                labels = out[(lang, rel, f.subject_uri)]
                obj = normalize_label(f.object, lang)
                if obj not in labels:
                    labels.append(obj)
    return dict(out)


def collect_wrong_labels(
    root: Path, languages: list[str], relations: Iterable[str] = (), allow_empty: bool = False
) -> dict[tuple[str, str], WrongLabel]:
    """Labels that name a different entity (:mod:`builders.wrong_labels`), found among
    the labels of every relation's facts in ``languages`` (all 41 relations, whatever the
    selection: the entity a wrong label belongs to may appear in another relation)."""
    selected, items = set(relations), []
    for rel in RELATION_IDS:
        for lang in languages:
            if not (root / "mlama1.1" / lang / f"{rel}.jsonl").exists():
                continue
            # the selected relations are read as collect_facts read them (cached)
            for f in _read_facts(root, lang, rel, allow_empty or rel not in selected):
                items.append((f.subject_uri, lang, normalize_label(f.subject, lang)))
                items.append((f.object_uri, lang, normalize_label(f.object, lang)))
    labels = entity_labels(items)
    return {**find_wrong_labels(labels), **listed_wrong_labels(labels)}


# -- step 2 and 3: templates and their validation ------------------------------------------


def bank_templates(
    root: Path, languages: list[str], relations: list[str], bank_dir: Path | None = None
) -> list[Template]:
    """The curated bank's templates; every entry must pass validation and provenance."""
    out, problems = [], []
    for lang in languages:
        bank = load_bank(lang, bank_dir)
        for rel in relations:
            entries = bank.get(rel, [])
            if not entries:
                problems.append(f"{lang}.yaml: no templates for {rel}")
            out.extend(entries)
    selected = [t for t in out if t.relation in relations]
    problems += find_shared([(t.language, t.relation, t.template) for t in selected])
    for t in selected:
        for rule, reason in validate_template(t.template, t.language):
            problems.append(f"{t.where}: {t.template!r} fails rule {rule}: {reason}")
    problems += check_provenance(selected, root)
    if problems:
        raise BuildError(
            f"the rephrasing bank has {len(problems)} invalid entr"
            f"{'y' if len(problems) == 1 else 'ies'}: " + "; ".join(problems)
        )
    return selected


def select_templates(
    templates: Iterable[Template],
) -> tuple[dict[tuple[str, str], list[Template]], list[Rejection]]:
    """Validate templates per (relation, language), drop duplicates; report every rejection."""
    groups: dict[tuple[str, str], list[Template]] = defaultdict(list)
    rejections = []
    for t in templates:
        failed = validate_template(t.template, t.language)
        for rule, reason in failed:
            rejections.append(Rejection(rule, reason, t.language, t.relation, t.template, source=t.where))
        if not failed:
            groups[(t.relation, t.language)].append(t)
    accepted = {}
    for key, group in groups.items():
        dups = find_duplicates([t.template for t in group])
        for i, j in dups.items():
            rejections.append(
                Rejection(
                    "duplicate",
                    f"same as {group[j].template!r} ({group[j].where}) after normalization",
                    key[1],
                    key[0],
                    group[i].template,
                    source=group[i].where,
                )
            )
        accepted[key] = [t for i, t in enumerate(group) if i not in dups]
    return accepted, rejections


def require_templates(
    accepted: dict[tuple[str, str], list[Template]], languages: list[str], relations: list[str]
) -> None:
    short = [
        f"{rel}/{lang}: {len(accepted.get((rel, lang), []))}"
        for rel in relations
        for lang in languages
        if len(accepted.get((rel, lang), [])) < MIN_TEMPLATES
    ]
    if short:
        raise BuildError(
            f"every (relation, language) needs at least {MIN_TEMPLATES} valid templates; "
            "too few for " + ", ".join(short) + " (see builders/bank/README.md)"
        )


# -- step 4: queries -------------------------------------------------------------------------

FACT_ORIGIN = "claude-fact"


def fact_template(query: str, language: str, relation_templates: list[Template]) -> str:
    """The template recorded for a query written for one fact: the query itself (no [X]),
    then [Y] and the punctuation that the relation's templates end with."""
    suffix = relation_templates[0].template.split("[Y]", 1)[1] if relation_templates else ""
    return query + (" " if LANGUAGES[language].spaced else "") + "[Y]" + suffix


def make_rows(
    facts: dict[str, dict[str, dict[str, src.Fact]]],
    templates: dict[tuple[str, str], list[Template]],
    languages: list[str],
    fact_queries: dict[tuple[str, str], list[str]] | None = None,
    objects: dict[tuple[str, str, str], list[str]] | None = None,
    wrong_labels: dict[tuple[str, str], WrongLabel] | None = None,
) -> tuple[dict[str, list[dict]], list[Rejection]]:
    """One row per fact and language: the relation's templates filled with the subject, then
    any ``fact_queries`` written for that fact. ``objects`` (from :func:`collect_objects`)
    gives every valid answer; without it a row's only valid answer is its object. A query
    may show neither the object (in any of the fact's languages) nor another valid answer.
    A fact left without a query in some language is dropped in every language, and
    reported; so is a fact whose subject or object has a wrong label (``wrong_labels``,
    from :func:`collect_wrong_labels`) in one of the languages."""
    fact_queries = fact_queries or {}
    objects = objects or {}
    wrong_labels = wrong_labels or {}
    rows: dict[str, list[dict]] = {lang: [] for lang in languages}
    rejections = []
    for rel, by_uuid in facts.items():
        for uuid, by_lang in by_uuid.items():
            wrong = [
                w
                for lang in languages
                for entity in (by_lang[lang].subject_uri, by_lang[lang].object_uri)
                if (w := wrong_labels.get((entity, lang))) is not None
            ]
            if wrong:
                w = wrong[0]
                rejections.append(
                    Rejection(
                        "wrong_label",
                        f"{w.signature}: {w.reason}; the fact is dropped in every language",
                        w.language,
                        rel,
                        w.label,
                        uuid,
                    )
                )
                continue
            fact_rows, fact_rej = {}, []
            labels = {lang: normalize_label(by_lang[lang].object, lang) for lang in languages}
            for lang in languages:
                f = by_lang[lang]
                subject, obj = normalize_label(f.subject, lang), labels[lang]
                valid = [obj] + [o for o in objects.get((lang, rel, f.subject_uri), []) if o != obj]
                also = tuple(dict.fromkeys([x for x in labels.values() if x != obj] + valid[1:]))
                kept: list[Template] = []
                queries: list[str] = []
                for t in templates[(rel, lang)]:
                    q = fill(t.template, subject, lang, rel in PERSON_SUBJECTS)
                    bad = check_query(q, subject, obj, lang, also)
                    if bad:
                        fact_rej.append(Rejection(bad[0], bad[1], lang, rel, q, uuid, t.where))
                    elif q not in queries:
                        kept.append(t)
                        queries.append(q)
                origins = [t.origin for t in kept]
                row_templates = [t.template for t in kept]
                for q in fact_queries.get((lang, uuid), []):
                    where = f"claude: {rel}/{lang} facts"
                    bad = check_query(q, subject, obj, lang, also)
                    if bad:
                        fact_rej.append(Rejection(bad[0], bad[1], lang, rel, q, uuid, where))
                    elif q not in queries:
                        queries.append(q)
                        row_templates.append(fact_template(q, lang, templates[(rel, lang)]))
                        origins.append(FACT_ORIGIN)
                fact_rows[lang] = {
                    "uuid": uuid,
                    "relation": rel,
                    "subject": subject,
                    "subject_uri": f.subject_uri,
                    "object": obj,
                    "object_uri": f.object_uri,
                    "objects": valid,
                    "subject_mlama": f.subject,
                    "object_mlama": f.object,
                    "language": lang,
                    "templates": row_templates,
                    "queries": queries,
                    "template_origins": origins,
                }
            rejections += fact_rej
            empty = [lang for lang, r in fact_rows.items() if not r["queries"]]
            if empty:
                rejections.append(
                    Rejection(
                        "no_query",
                        f"no valid query in {', '.join(empty)}: the fact is dropped in every language",
                        empty[0],
                        rel,
                        by_lang[empty[0]].subject,
                        uuid,
                    )
                )
                continue
            for lang in languages:
                rows[lang].append(fact_rows[lang])
    return rows, rejections


# -- all steps --------------------------------------------------------------------------------


def build_rows(config: BuildConfig) -> Built:
    root = config.sources
    langs, rels = config.languages, config.relations
    with tqdm(total=3, desc="rml-build", disable=not config.progress, leave=False) as steps:
        steps.set_postfix_str("facts")
        _read_facts.cache_clear()  # read the sources as they are now
        facts = collect_facts(
            root,
            langs,
            rels,
            config.max_facts_per_relation,
            config.allow_empty_sources,
            config.max_facts_per_subject,
        )
        wrong_labels = collect_wrong_labels(root, langs, rels, config.allow_empty_sources)
        objects = collect_objects(root, langs, rels, config.allow_empty_sources, wrong_labels)
        _read_facts.cache_clear()  # a later build may read changed sources
        steps.update()
        steps.set_postfix_str("templates")
        generated = generated_inputs(config)
        use_bank = config.rephrasings != "claude"
        bank = bank_templates(root, langs, rels, config.bank_dir) if use_bank else []
        candidates = bank + [t for t in generated.templates if t.relation in rels and t.language in langs]
        accepted, rejections = select_templates(candidates)
        rejections = [
            r for r in generated.rejections if r.relation in rels and r.language in langs
        ] + rejections
        require_templates(accepted, langs, rels)
        steps.update()
        steps.set_postfix_str("queries")
        rows, query_rejections = make_rows(
            facts, accepted, langs, generated.fact_queries, objects, wrong_labels
        )
        steps.update()
    return Built(rows, rejections + query_rejections, accepted)


def build(config: BuildConfig) -> Path:
    """Build the dataset into ``config.out``; returns the path of its manifest."""
    from builders.write import write_dataset

    built = build_rows(config)
    manifest = write_dataset(built, config)
    return manifest
