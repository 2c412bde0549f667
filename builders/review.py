"""A seeded sample of queries for a human re-read: one query per relation and language.

``sample(rows, seed, per_language)`` draws ``per_language`` relations, one fact of each
(the same fact in every language, so a reader can compare the languages), and in each
language one of that fact's queries. The grades (A natural, B awkward, C wrong) are the
reader's; ``docs/dataset.md`` records the last re-read.
"""

from __future__ import annotations

import random
from collections import defaultdict


def sample(rows: dict[str, list[dict]], seed: int = 0, per_language: int = 40) -> list[dict]:
    """``[{language, relation, uuid, subject, object, template, query}, ...]``, grouped by
    language in the order of ``rows``, relations in id order."""
    rng = random.Random(seed)
    first = next(iter(rows.values()), [])
    facts: dict[str, list[str]] = defaultdict(list)
    for r in first:
        facts[r["relation"]].append(r["uuid"])
    relations = sorted(facts, key=lambda rel: int(rel[1:]))
    chosen = sorted(rng.sample(relations, min(per_language, len(relations))), key=lambda r: int(r[1:]))
    uuids = {rel: rng.choice(facts[rel]) for rel in chosen}
    out = []
    for lang, lang_rows in rows.items():
        by_uuid = {r["uuid"]: r for r in lang_rows}
        for rel in chosen:
            r = by_uuid[uuids[rel]]
            i = rng.randrange(len(r["queries"]))
            out.append(
                {
                    "language": lang,
                    "relation": rel,
                    "uuid": r["uuid"],
                    "subject": r["subject"],
                    "object": r["object"],
                    "template": r["templates"][i],
                    "query": r["queries"][i],
                }
            )
    return out


def to_markdown(items: list[dict]) -> str:
    """One table per language: relation, query, object (the reader adds the grade)."""
    lines = []
    lang = None
    for it in items:
        if it["language"] != lang:
            lang = it["language"]
            lines += ["", f"### {lang}", "", "| relation | query | object | grade |", "|---|---|---|---|"]
        lines.append(f"| {it['relation']} | {it['query']} | {it['object']} | |")
    return "\n".join(lines).lstrip() + "\n"
