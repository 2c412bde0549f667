"""Facts for a run: RML-LAMA rows grouped by fact, with cloze queries per language.

The dataset is read with :func:`rml_lama.load`: the local ``rml_lama`` folder by default
(as it is on disk, never a stale ``datasets`` cache), or any folder or Hub id holding the
same configs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.attribution.query import ClozeQuery
from rml_lama import DATASET_DIR, LANGUAGES, check_languages, check_relations
from rml_lama.home import not_built_message


@dataclass(frozen=True)
class Fact:
    """One fact with its cloze queries per language (``{"en": (q1, q2, ...), ...}``): what
    localizers see, plus the object's labels that tasks need."""

    uuid: str  # the same fact in every language (mLAMA uuid)
    relation: str  # Wikidata property id, e.g. "P36"
    queries: Mapping[str, tuple[ClozeQuery, ...]] = field(hash=False)
    objects: Mapping[str, str] = field(default_factory=dict, hash=False)  # language -> label
    object_uri: str = ""

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages that have at least one query, in the mapping's order."""
        return tuple(lang for lang, qs in self.queries.items() if len(qs) > 0)

    def select(self, languages: Iterable[str] | None) -> dict[str, tuple[ClozeQuery, ...]]:
        """The non-empty query tuples of ``languages`` (all when None); raises ValueError
        when a requested language has no query or nothing is left."""
        if languages is None:
            out = {lang: tuple(self.queries[lang]) for lang in self.languages}
        else:
            wanted = list(dict.fromkeys(languages))
            missing = [lang for lang in wanted if not self.queries.get(lang)]
            if missing:
                raise ValueError(f"fact {self.uuid}: no queries in language(s) {', '.join(missing)}")
            out = {lang: tuple(self.queries[lang]) for lang in wanted}
        if not out:
            raise ValueError(f"fact {self.uuid}: no queries in any language")
        return out


def alternatives(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The row's valid objects other than its target ``object`` (datasets built before the
    ``objects`` column have none)."""
    return tuple(o for o in row.get("objects") or () if o != row["object"])


def row_queries(row: Mapping[str, Any]) -> tuple[ClozeQuery, ...]:
    """The cloze queries of one dataset row (one fact in one language, see
    ``rml_lama.schema``): ``ClozeQuery(query, object, suffix, space)``, the suffix being the
    template's text after ``[Y]``."""
    space = LANGUAGES[row["language"]].spaced
    out = []
    for template, prefix in zip(row["templates"], row["queries"], strict=True):
        if "[Y]" not in template:
            raise ValueError(f"fact {row['uuid']} ({row['language']}): template {template!r} has no [Y]")
        suffix = template.split("[Y]", 1)[1]
        out.append(
            ClozeQuery(
                prefix=prefix,
                answer=row["object"],
                suffix=suffix,
                space=space,
                alternatives=alternatives(row),
            )
        )
    return tuple(out)


def fact_from_rows(rows: Iterable[Mapping[str, Any]]) -> Fact:
    """A :class:`Fact` from the dataset rows of one fact (one row per language)."""
    rows = list(rows)
    if not rows:
        raise ValueError("fact_from_rows needs at least one row")
    first = rows[0]
    for row in rows:
        if row["uuid"] != first["uuid"]:
            raise ValueError(f"rows of different facts: {first['uuid']} and {row['uuid']}")
    return Fact(
        uuid=first["uuid"],
        relation=first["relation"],
        queries={row["language"]: row_queries(row) for row in rows},
        objects={row["language"]: row["object"] for row in rows},
        object_uri=first.get("object_uri", ""),
    )


class FactPool:
    """Every fact of one dataset (a folder or Hub id; default the built ``rml_lama/``), each
    language read once: the run's facts come from it, and the tasks draw other facts from it
    (locality, new objects, Q_old, English queries a run without English lacks).
    ``FactPool.of(facts)`` is a pool of given facts (tests, plugins)."""

    def __init__(self, dataset: str | Path | None = None) -> None:
        self.dataset = dataset
        self._given: list[Fact] | None = None
        self._tables: dict[str, list[dict]] = {}
        self._facts: dict[tuple[str, ...], dict[str, Fact]] = {}
        self._fits: Callable[[ClozeQuery], bool] | None = None

    def restrict(self, fits: Callable[[ClozeQuery], bool] | None) -> None:
        """From now on, facts carry only the queries ``fits`` accepts (the model's context,
        see ``harness.context``), and a fact left with none in a language is not there."""
        self._fits = fits
        self._facts.clear()

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> FactPool:
        pool = cls()
        pool._given = list(facts)
        return pool

    @property
    def where(self) -> str:
        return str(self.dataset) if self.dataset is not None else str(DATASET_DIR)

    def _table(self, language: str) -> list[dict]:
        import rml_lama

        if language not in self._tables:
            if self.dataset is None and not (DATASET_DIR / "manifest.json").exists():
                raise FileNotFoundError(not_built_message(DATASET_DIR))
            try:
                # a folder is read as it is on disk now (rml_lama.load); anything else is a Hub id
                if Path(self.where).exists():
                    table = rml_lama.load(language, self.where)
                else:
                    table = rml_lama.load(language, repo_id=self.where)
            except FileNotFoundError as e:
                raise FileNotFoundError(
                    f"--dataset {self.where}: no RML-LAMA data there (a folder with "
                    f"data/<lang>/test.parquet and its card, or a Hub dataset id): {e}"
                ) from e
            self._tables[language] = table.to_list()
        return self._tables[language]

    def facts(self, languages: Iterable[str]) -> dict[str, Fact]:
        """uuid → fact for every fact with queries in all ``languages`` (dataset order); a
        dataset's facts carry exactly those languages, given facts all of theirs."""
        langs = tuple(dict.fromkeys(languages))
        if langs not in self._facts:
            if self._given is not None:
                got = {f.uuid: f for f in self._given if all(f.queries.get(lang) for lang in langs)}
            else:
                by_lang = {lang: {r["uuid"]: r for r in self._table(lang)} for lang in langs}
                got = {}
                for row in self._table(langs[0]) if langs else []:
                    uuid = row["uuid"]
                    if all(uuid in by_lang[lang] for lang in langs):
                        got[uuid] = fact_from_rows([by_lang[lang][uuid] for lang in langs])
            if self._fits is not None:
                from harness.context import keep_fitting

                fitting = (keep_fitting(f, self._fits)[0] for f in got.values())
                got = {f.uuid: f for f in fitting if all(f.queries.get(lang) for lang in langs)}
            self._facts[langs] = got
        return self._facts[langs]


def load_facts(
    languages: Sequence[str],
    relations: Sequence[str] | None = None,
    fact_ids: Sequence[str] | None = None,
    limit: int | None = None,
    dataset: str | Path | None = None,
    pool: FactPool | None = None,
) -> list[Fact]:
    """Facts present in every language, in dataset order, filtered and cut to ``limit``
    (read through ``pool`` when given, else from ``dataset``)."""
    languages = check_languages(list(languages))
    if relations is not None:
        relations = check_relations(list(relations))
    pool = pool if pool is not None else FactPool(dataset)
    every = pool.facts(languages)
    wanted = set(fact_ids) if fact_ids is not None else None
    if wanted is not None:
        missing = wanted - set(every)
        if missing:
            lines = getattr(fact_ids, "where", {})  # id -> file:line, when read from a file
            first = next(u for u in fact_ids or () if u in missing)  # the first one asked for
            at = f" ({lines[first]})" if first in lines else ""
            raise ValueError(
                f"--fact-ids: {len(missing)} id(s) not in the dataset {pool.where}, "
                f"e.g. {first!r}{at}; ids are the dataset's `uuid` column"
            )
    facts = []
    for uuid, fact in every.items():
        if wanted is not None and uuid not in wanted:
            continue
        if relations is not None and fact.relation not in relations:
            continue
        facts.append(fact)
        if limit is not None and len(facts) >= limit:
            break
    return facts


class FactIds(list):
    """Fact ids read from a file; ``where[id]`` is its ``file:line`` for error messages."""

    where: dict[str, str]


def read_fact_ids(path: str | Path) -> FactIds:
    """One uuid per line (blank lines and ``#`` comments ignored)."""
    ids = FactIds()
    ids.where = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--fact-ids {path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        text = line.strip()
        if text and not text.startswith("#"):
            ids.append(text)
            ids.where.setdefault(text, f"{path}:{lineno}")
    if not ids:
        raise ValueError(f"--fact-ids {path}: the file lists no fact id")
    return ids
