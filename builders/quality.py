"""Measures of a built dataset's language quality, written into its card.

Each measure re-checks the finished rows independently of the step that was meant to
prevent the problem (the bank's template rules, the French join, the zh conversion, the
leak rule during the build), so the card reports what the data is, not what the rules
intended.
"""

from __future__ import annotations

import re
from collections import defaultdict

from builders.labels import traditional_out_of_context
from builders.validate import leaking_label
from builders.wrong_labels import entity_labels, find_wrong_labels

# A Finnish case ending written after a colon: "Ukraina:n", "EU:ssa", "3:nnen".
_FI_COLON = re.compile(r"(\S+):([a-zåäö]+)\b")


def _fi_colon_allowed(word: str) -> bool:
    """Finnish writes an ending after a colon only after an abbreviation, a number or a
    symbol (Kielitoimiston ohjepankki: "Kaksoispiste taivutuspäätteen edellä")."""
    core = word.strip("\"'()[]«»”")
    if not core:
        return True
    if any(ch.isdigit() for ch in core) or not any(ch.isalpha() for ch in core):
        return True  # a number or a symbol
    letters = [ch for ch in core if ch.isalpha()]
    # an abbreviation (EU, YK, t.), a letter or a Roman numeral (Kaarle XII:n, V:n)
    return core.endswith(".") or all(ch.isupper() for ch in letters)


def fi_colon_endings(rows: list[dict]) -> list[str]:
    """fi queries with a colon ending after a word that is not an abbreviation, number or
    symbol."""
    bad = []
    for r in rows:
        for q in r["queries"]:
            if any(not _fi_colon_allowed(m.group(1)) for m in _FI_COLON.finditer(q)):
                bad.append(q)
    return bad


def fr_elision(rows: list[dict]) -> list[str]:
    """fr queries where elision or contraction is missing ("de Oufa", "que il", "de Le
    Havre"), not counting a place inside the subject label itself (a title, a name)."""
    from builders.build import PERSON_SUBJECTS

    bad = []
    for r in rows:
        subject = r["subject"]
        bare = re.sub(r"^(le|les)\s+", "", subject, flags=re.IGNORECASE)
        person = r.get("relation") in PERSON_SUBJECTS  # "de Les Paul": a name keeps its article
        for q in r["queries"]:
            at = q.casefold().find(subject.casefold())  # a label that opens the query is capitalized
            if at < 0:
                at = q.casefold().find(bare.casefold())
            inside = range(at, at + len(subject)) if at >= 0 else range(0)
            errors = [
                m
                for m, kind in _fr_errors(q)
                if m not in inside and not (person and kind == "contraction" and at >= 0 and m < at)
            ]
            if errors:
                bad.append(q)
    return bad


def _fr_errors(text: str) -> list[tuple[int, str]]:
    """Start offsets of missing elisions and contractions in ``text``, with their kind."""
    from builders.queries import _FR_ARTICLE, _FR_ELISION

    return [(m.start(), "elision") for m in _FR_ELISION.finditer(text)] + [
        (m.start(), "contraction") for m in _FR_ARTICLE.finditer(text)
    ]


def zh_traditional(rows: list[dict]) -> list[str]:
    """zh labels (subject, object, valid objects) that contain a Traditional-only
    character (one that OpenCC's t2s converts, even on its own)."""
    bad = []
    for r in rows:
        for label in (r["subject"], r["object"], *r.get("objects", [])):
            if traditional_out_of_context(label):
                bad.append(label)
    return bad


def leaking_facts(rows: dict[str, list[dict]]) -> list[tuple[str, str, str]]:
    """(language, uuid, query) for each query that shows the object, the object's label in
    another language of the fact, or another valid object, by the leak rule
    (:func:`builders.validate.leaks`), or whose subject is its object."""
    labels: dict[str, set[str]] = defaultdict(set)
    for lang_rows in rows.values():
        for r in lang_rows:
            labels[r["uuid"]].add(r["object"])
    bad = []
    for lang, lang_rows in rows.items():
        for r in lang_rows:
            forbidden = sorted(labels[r["uuid"]] | set(r.get("objects", [])))
            same = r["subject"].casefold() == r["object"].casefold()
            for q in r["queries"]:
                if same or leaking_label(forbidden, q, lang) is not None:
                    bad.append((lang, r["uuid"], q))
    return bad


def mid_word_occurrences(rows: dict[str, list[dict]]) -> int:
    """Queries that contain the object anywhere, even inside a word (object "Ra" in
    "Paris"): allowed by the leak rule in spaced languages, counted for information."""
    return sum(
        r["object"].casefold() in q.casefold()
        for lang_rows in rows.values()
        for r in lang_rows
        for q in r["queries"]
    )


def wrong_label_facts(rows: dict[str, list[dict]]) -> list[tuple[str, str, str]]:
    """(language, uuid, label) for each row whose subject or object label names another
    entity: the wrong-label detector (:mod:`builders.wrong_labels`) run again, on the
    labels of the finished rows alone."""
    labelled = [
        (lang, r, r[uri], r[label])
        for lang, lang_rows in rows.items()
        for r in lang_rows
        for uri, label in (("subject_uri", "subject"), ("object_uri", "object"))
        if r.get(uri)  # rows without Wikidata ids (hand-made ones) cannot be checked
    ]
    wrong = find_wrong_labels(entity_labels((uri, lang, label) for lang, _, uri, label in labelled))
    return [(lang, r["uuid"], label) for lang, r, uri, label in labelled if (uri, lang) in wrong]


def measure(rows: dict[str, list[dict]]) -> dict:
    """All measures, as counts (with a few examples where a count is not 0)."""
    fi = fi_colon_endings(rows.get("fi", []))
    fr = fr_elision(rows.get("fr", []))
    zh = zh_traditional(rows.get("zh", []))
    leak = leaking_facts(rows)
    wrong = wrong_label_facts(rows)
    all_rows = [r for lang_rows in rows.values() for r in lang_rows]
    return {
        "fi_colon_endings": len(fi),
        "fi_queries": sum(len(r["queries"]) for r in rows.get("fi", [])),
        "fr_elision_errors": len(fr),
        "fr_queries": sum(len(r["queries"]) for r in rows.get("fr", [])),
        "zh_traditional_labels": len(zh),
        "zh_labels": sum(2 + len(r.get("objects", [])) for r in rows.get("zh", [])),
        "leaking_queries": len(leak),
        "leaking_facts": len({u for _, u, _ in leak}),
        "mid_word_occurrences": mid_word_occurrences(rows),
        "wrong_label_facts": len({u for _, u, _ in wrong}),
        "rows": len(all_rows),
        "rows_with_objects": sum(bool(r.get("objects")) and r["object"] in r["objects"] for r in all_rows),
        "examples": {
            "fi": fi[:3],
            "fr": fr[:3],
            "zh": zh[:3],
            "leak": [q for *_, q in leak[:3]],
            "wrong_label": [label for *_, label in wrong[:3]],
        },
    }
