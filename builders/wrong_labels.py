"""Wrong source labels: a label that is the name of a different entity.

mLAMA takes each entity's label per language from Wikidata, and a few of them name another
entity: the English label of Beth Phoenix (Q236804) is "Lionel Messi", so the en row of her
P108 fact asked ``Lionel Messi works for`` with the answer WWE. Within one language an
entity always has one label in mLAMA, so the evidence has to come from the other languages
and from the other entities. Two signatures are detected; both were chosen for precision
(a legitimate variant must not be dropped), not for recall. ``docs/dataset.md`` lists
what they find in mLAMA 1.1 and the signatures that were tried and rejected.

``label_of_another_entity`` (en, fr, fi, hu): the label ℓ of entity X in a Latin-script
language L is wrong when

1. X's labels in at least two other Latin-script languages all agree on one name N (case-
   and accent-insensitive): X's name does not vary across these languages, so it is not a
   common noun (*heart*/*cœur*/*sydän*) or a place with exonyms (*Vienna*/*Vienne*/*Wien*);
2. ℓ shares no word with N: not a short form (*Gibson* for *Gibson Guitar Corporation*)
   nor a spelling variant (*Bethlehem*/*Betlehem*);
3. another entity Y has ℓ as its label in at least two Latin-script languages other than L:
   ℓ is Y's invariant name. A local homonym (fr *rose* for pink and the flower) and an
   exonym no other entity carries (hu *Pozsony* for Bratislava) do not meet it.

``shared_name`` (zh, ja, ko): two entities X ≠ Y have the same label in L, it is a name
of two or more parts (``スパイク・ヒューズ``), and X's and Y's Latin-script names (each
invariant as in 1.) share no word and are dissimilar. Two people with disjoint Latin names
cannot both be written ``スパイク・ヒューズ``; the label alone cannot tell which entity is
wrong, so both are flagged. One-part labels are left alone: they collide legitimately, by
transliteration (ko ``본`` is Bonn and Vaughan, ``잭슨`` Jackson and Zaxxon) or by
translation (zh ``股份有限公司``).

``listed``: labels found wrong by reading, which no signature catches (en "Ciencias" for
Scientology), kept in ``builders/wrong_labels.yaml`` with the evidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from builders.errors import BuildError

LISTED_FILE = Path(__file__).resolve().parent / "wrong_labels.yaml"

LATIN = ("en", "fr", "fi", "hu")  # the Latin-script languages of RML-LAMA
CJK = ("zh", "ja", "ko")
MIN_AGREEING = 2  # other Latin languages that must agree on a name
MAX_NAME_SIMILARITY = 0.5  # shared_name: difflib ratio of the two Latin names below this
_NAME_PARTS = re.compile(r"[・·•‧\s]+")


@dataclass(frozen=True)
class WrongLabel:
    entity: str  # Wikidata id of the entity whose label is wrong
    language: str
    label: str
    signature: str  # label_of_another_entity or shared_name
    other: str  # the entity the label names (or shares it with)
    reason: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def name_key(label: str) -> str:
    """Case-, width- and accent-insensitive form of a Latin-script label."""
    s = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", label).casefold())
    return "".join(ch for ch in s if not unicodedata.combining(ch)).strip()


def _cjk_key(label: str) -> str:
    # no accent folding: it would strip the (han)dakuten of kana (バース → ハース)
    return unicodedata.normalize("NFKC", label).casefold().strip()


def _words(key: str) -> set[str]:
    return set(re.findall(r"\w+", key))


def entity_labels(items: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    """``{entity: {language: label}}`` from ``(entity, language, label)`` triples."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for entity, language, label in items:
        out[entity][language] = label
    return dict(out)


def _invariant_name(labels: dict[str, str], skip: str | None = None) -> str | None:
    """The name X's Latin-script labels (all but ``skip``) agree on, if at least
    ``MIN_AGREEING`` of them exist and all agree; else None."""
    keys = {name_key(labels[lang]) for lang in LATIN if lang != skip and lang in labels}
    n = sum(lang != skip and lang in labels for lang in LATIN)
    return next(iter(keys)) if n >= MIN_AGREEING and len(keys) == 1 else None


def find_wrong_labels(labels: dict[str, dict[str, str]]) -> dict[tuple[str, str], WrongLabel]:
    """``{(entity, language): WrongLabel}`` for every label that a signature flags (see the
    module docstring). ``labels`` is :func:`entity_labels`' output over the sources."""
    out: dict[tuple[str, str], WrongLabel] = {}
    # name key -> entities that carry it in a Latin language, with the languages
    carriers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for entity, by_lang in labels.items():
        for lang in LATIN:
            if lang in by_lang:
                carriers[name_key(by_lang[lang])][entity].add(lang)

    for x, by_lang in labels.items():
        for lang in LATIN:
            if lang not in by_lang:
                continue
            label = by_lang[lang]
            key = name_key(label)
            own = _invariant_name(by_lang, skip=lang)
            if own is None or own == key or _words(own) & _words(key):
                continue
            for y, langs in sorted(carriers[key].items()):
                if y != x and len(langs - {lang}) >= MIN_AGREEING:
                    out[(x, lang)] = WrongLabel(
                        x,
                        lang,
                        label,
                        "label_of_another_entity",
                        y,
                        f"{x}'s {lang} label {label!r} is the name of {y} in "
                        f"{', '.join(sorted(langs - {lang}))}, while {x} is {own!r} in the other "
                        "Latin-script languages",
                    )
                    break

    for lang in CJK:
        by_key: dict[str, list[str]] = defaultdict(list)
        for entity, by_lang in labels.items():
            if lang in by_lang:
                by_key[_cjk_key(by_lang[lang])].append(entity)
        for key, entities in by_key.items():
            if len(entities) < 2 or len([p for p in _NAME_PARTS.split(key) if p]) < 2:
                continue
            names = {e: _invariant_name(labels[e]) for e in entities}
            for i, x in enumerate(sorted(entities)):
                for y in sorted(entities)[i + 1 :]:
                    nx, ny = names[x], names[y]
                    if nx is None or ny is None or _words(nx) & _words(ny):
                        continue
                    if SequenceMatcher(None, nx, ny).ratio() >= MAX_NAME_SIMILARITY:
                        continue
                    for a, b, na, nb in ((x, y, nx, ny), (y, x, ny, nx)):
                        out.setdefault(
                            (a, lang),
                            WrongLabel(
                                a,
                                lang,
                                labels[a][lang],
                                "shared_name",
                                b,
                                f"{a} ({na!r}) and {b} ({nb!r}) are both {labels[a][lang]!r} in {lang}; "
                                "one of the two labels is wrong",
                            ),
                        )
    return out


def listed_wrong_labels(
    labels: dict[str, dict[str, str]], path: Path = LISTED_FILE
) -> dict[tuple[str, str], WrongLabel]:
    """The entries of ``path`` (see its header) whose entity and language occur in
    ``labels``; an entry whose label differs from the sources' is a BuildError."""
    import yaml

    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as e:
        raise BuildError(f"{path}: cannot read the list of wrong labels ({e})") from None
    out = {}
    keys = ("entity", "language", "label", "why")
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) for k in keys):
            raise BuildError(f"{path}: entry {i} needs the text fields {', '.join(keys)}")
        entity, lang, label = entry["entity"], entry["language"], entry["label"]
        found = labels.get(entity, {}).get(lang)
        if found is None:
            continue  # not in this build's languages or relations
        if found != label:
            raise BuildError(
                f"{path}: entry {i} ({entity}, {lang}) lists the label {label!r}, but the "
                f"sources give {found!r}; correct or remove the entry"
            )
        out[(entity, lang)] = WrongLabel(entity, lang, label, "listed", "", entry["why"].strip())
    return out
