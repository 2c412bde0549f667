"""Which facts a tiny model learns: the known / high-resource-only / held-out split.

The split is built for the paper's experiments:

- ``known``: facts trained in all seven languages (localization, cross-lingual neurons);
- ``high_resource_only``: facts trained in en, zh and fr only, so they are answered in the
  high-resource languages and wrong in fi, hu, ja, ko (the low-resource enhancement task's
  Q_error items);
- ``held_out``: facts never trained on (knowledge injection's Q_new).

Facts are eligible when they exist in all seven languages and none of their queries is
shared with a fact that has another object (``[X] shares a border with`` facts of one
subject would otherwise contradict each other). They are sampled stratified over relations
with a seeded RNG, so the same dataset and config give the same split; it is stored as JSON
uuid lists next to the model.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from rml_lama.languages import HIGH_RESOURCE, LANGUAGE_CODES

SPLIT_NAMES = ("known", "high_resource_only", "held_out")
TRAIN_LANGUAGES: dict[str, tuple[str, ...]] = {  # the languages each split is trained in
    "known": LANGUAGE_CODES,
    "high_resource_only": HIGH_RESOURCE,
    "held_out": (),
}


@dataclass(frozen=True)
class SplitConfig:
    known: int = 240  # facts learnt in all 7 languages
    high_resource_only: int = 80  # facts learnt in en, zh, fr only
    held_out: int = 80  # facts never trained on
    seed: int = 0  # sampling seed

    def sizes(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in SPLIT_NAMES}


@dataclass(frozen=True)
class Splits:
    known: tuple[str, ...]  # uuids, in sampling order
    high_resource_only: tuple[str, ...]
    held_out: tuple[str, ...]
    config: SplitConfig = SplitConfig()

    def of(self, split: str) -> tuple[str, ...]:
        if split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLIT_NAMES)}")
        return getattr(self, split)

    @cached_property
    def split_of(self) -> dict[str, str]:
        """uuid -> split name."""
        return {u: s for s in SPLIT_NAMES for u in self.of(s)}

    def trained(self, uuid: str, language: str) -> bool:
        """Whether the model was trained on this fact in this language."""
        split = self.split_of.get(uuid)
        return split is not None and language in TRAIN_LANGUAGES[split]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "train_languages": {s: list(TRAIN_LANGUAGES[s]) for s in SPLIT_NAMES},
            **{s: list(self.of(s)) for s in SPLIT_NAMES},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Splits:
        return cls(
            known=tuple(data["known"]),
            high_resource_only=tuple(data["high_resource_only"]),
            held_out=tuple(data["held_out"]),
            config=SplitConfig(**data["config"]),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Splits:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def splits_beside(folder: str | Path) -> Splits | None:
    """The ``splits.json`` saved beside a tiny model's weights, or None (other models)."""
    path = Path(folder) / "splits.json"
    return Splits.load(path) if path.is_file() else None


def eligible_facts(rows: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """uuid -> relation for the facts present in every language with unambiguous queries."""
    per_lang: dict[str, dict[str, dict[str, Any]]] = {
        lang: {r["uuid"]: r for r in lang_rows if r["queries"]} for lang, lang_rows in rows.items()
    }
    ambiguous: set[str] = set()
    for lang_rows in per_lang.values():
        objects: dict[str, set[str]] = defaultdict(set)
        for r in lang_rows.values():
            for q in r["queries"]:
                objects[q].add(r["object"])
        for r in lang_rows.values():
            if any(len(objects[q]) > 1 for q in r["queries"]):
                ambiguous.add(r["uuid"])
    common = set.intersection(*(set(d) for d in per_lang.values())) if per_lang else set()
    first = next(iter(per_lang.values()), {})
    return {u: first[u]["relation"] for u in sorted(common - ambiguous)}


def make_splits(rows: dict[str, list[dict[str, Any]]], config: SplitConfig) -> Splits:
    """Sample the three splits from the dataset rows, stratified over relations."""
    missing = set(LANGUAGE_CODES) - set(rows)
    if missing:
        raise ValueError(f"the split needs all seven languages; missing {', '.join(sorted(missing))}")
    facts = eligible_facts(rows)
    sizes = config.sizes()
    total = sum(sizes.values())
    if total > len(facts):
        raise ValueError(
            f"the split asks for {total} facts ({sizes}) but the dataset has only {len(facts)} "
            "facts in all seven languages with unambiguous queries; use a smaller config"
        )
    by_rel: dict[str, list[str]] = defaultdict(list)
    for uuid, rel in facts.items():
        by_rel[rel].append(uuid)
    for rel, uuids in by_rel.items():  # one RNG per relation: relations do not disturb each other
        random.Random(f"{config.seed}:{rel}").shuffle(uuids)
    # Round-robin over relations, so every relation contributes as evenly as it can.
    picked: list[tuple[str, str]] = []
    depth = 0
    while len(picked) < total:
        for rel in sorted(by_rel):
            if depth < len(by_rel[rel]) and len(picked) < total:
                picked.append((rel, by_rel[rel][depth]))
        depth += 1
    # Give each split its share of every relation: the split furthest below its share wins.
    n_rel: dict[str, int] = defaultdict(int)
    for rel, _ in picked:
        n_rel[rel] += 1
    assigned: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLIT_NAMES, 0))
    left = dict(sizes)
    out: dict[str, list[str]] = {s: [] for s in SPLIT_NAMES}
    for rel, uuid in picked:
        open_splits = [s for s in SPLIT_NAMES if left[s] > 0]
        split = max(
            open_splits,
            key=lambda s: (n_rel[rel] * sizes[s] / total - assigned[rel][s], left[s] / total),
        )
        assigned[rel][split] += 1
        left[split] -= 1
        out[split].append(uuid)
    return Splits(
        known=tuple(out["known"]),
        high_resource_only=tuple(out["high_resource_only"]),
        held_out=tuple(out["held_out"]),
        config=config,
    )
