"""Facts for a run: RML-LAMA rows grouped by fact, with cloze queries per language.

The dataset is read with ``datasets.load_dataset``: the local ``rml_lama`` folder by
default, or any folder or Hub id holding the same configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.attribution import ClozeQuery
from harness.localizers.base import Fact as LocalizerFact
from rml_lama import DATASET_DIR, LANGUAGES, check_languages, check_relations
from rml_lama.home import not_built_message


@dataclass(frozen=True)
class Fact(LocalizerFact):
    """One fact with its queries in every selected language (what localizers see), plus
    the labels that tasks need."""

    subjects: dict[str, str] = field(default_factory=dict)  # language -> subject label
    objects: dict[str, str] = field(default_factory=dict)  # language -> object label
    object_uri: str = ""


def alternatives(row: dict) -> tuple[str, ...]:
    """The row's valid objects other than its target ``object`` (datasets built before the
    ``objects`` column have none)."""
    return tuple(o for o in row.get("objects") or () if o != row["object"])


def row_queries(row: dict) -> tuple[ClozeQuery, ...]:
    """The cloze queries of one dataset row (one fact in one language)."""
    space = LANGUAGES[row["language"]].spaced
    out = []
    for template, prefix in zip(row["templates"], row["queries"], strict=True):
        suffix = template.split("[Y]", 1)[1]
        out.append(ClozeQuery(prefix=prefix, answer=row["object"], suffix=suffix, space=space,
                              alternatives=alternatives(row)))
    return tuple(out)


def load_facts(
    languages: Sequence[str],
    relations: Sequence[str] | None = None,
    fact_ids: Sequence[str] | None = None,
    limit: int | None = None,
    dataset: str | Path | None = None,
) -> list[Fact]:
    """Facts present in every language, in dataset order, filtered and cut to ``limit``."""
    import datasets

    languages = check_languages(list(languages))
    if relations is not None:
        relations = check_relations(list(relations))
    where = str(dataset) if dataset is not None else str(DATASET_DIR)
    if dataset is None and not (Path(where) / "manifest.json").exists():
        raise FileNotFoundError(not_built_message(Path(where)))
    try:
        tables = {
            lang: datasets.load_dataset(where, lang, split="test").to_list() for lang in languages
        }
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"--dataset {where}: no RML-LAMA data there (a folder with data/<lang>/test.parquet "
            f"and its card, or a Hub dataset id): {e}"
        ) from e
    by_lang = {lang: {r["uuid"]: r for r in rows} for lang, rows in tables.items()}
    order = [r["uuid"] for r in tables[languages[0]]]
    wanted = set(fact_ids) if fact_ids is not None else None
    if wanted is not None:
        missing = wanted - set(order)
        if missing:
            lines = getattr(fact_ids, "where", {})  # id -> file:line, when read from a file
            first = next(u for u in fact_ids if u in missing)  # the first one asked for
            at = f" ({lines[first]})" if first in lines else ""
            raise ValueError(
                f"--fact-ids: {len(missing)} id(s) not in the dataset {where}, "
                f"e.g. {first!r}{at}; ids are the dataset's `uuid` column"
            )
    facts = []
    for uuid in order:
        if wanted is not None and uuid not in wanted:
            continue
        if not all(uuid in by_lang[lang] for lang in languages):
            continue
        first = by_lang[languages[0]][uuid]
        if relations is not None and first["relation"] not in relations:
            continue
        facts.append(Fact(
            uuid=uuid,
            relation=first["relation"],
            queries={lang: row_queries(by_lang[lang][uuid]) for lang in languages},
            subjects={lang: by_lang[lang][uuid]["subject"] for lang in languages},
            objects={lang: by_lang[lang][uuid]["object"] for lang in languages},
            object_uri=first["object_uri"],
        ))
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
