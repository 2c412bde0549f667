"""How well a tiny model knows its facts: accuracy per split and language.

Top-1 accuracy of the answer's first token over every query of every fact (so a fact with
five paraphrases counts five times), next to a majority baseline: the most frequent first
answer token of the relation among the *other* facts trained in that language (what a
model that learnt only the relation's prior would answer). Known facts should be near 1,
held-out facts near or below the baseline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from harness.models.facts import Cloze
from harness.models.splits import SPLIT_NAMES, TRAIN_LANGUAGES, Splits
from harness.models.training import Encoded, predict_first
from rml_lama.languages import LANGUAGE_CODES


def accuracy_report(model: Any, pad_id: int, items: dict[Cloze, Encoded], splits: Splits) -> dict[str, Any]:
    """``{"accuracy": {split: {lang: acc}}, "baseline": ..., "queries": {split: {lang: n}}}``."""
    split_of = splits.split_of
    majority: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)  # (lang, rel) ->
    own: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)  # (uuid, lang) ->
    for c, e in items.items():
        if c.language in TRAIN_LANGUAGES[split_of[c.uuid]]:
            majority[c.language, c.relation][e.answer_id] += 1
            own[c.uuid, c.language][e.answer_id] += 1
    clozes = list(items)
    preds = predict_first(model, [items[c] for c in clozes], pad_id)
    right: dict[str, dict[str, list[int]]] = {s: defaultdict(list) for s in SPLIT_NAMES}
    base: dict[str, dict[str, list[int]]] = {s: defaultdict(list) for s in SPLIT_NAMES}
    for c, pred in zip(clozes, preds, strict=True):
        split, gold = split_of[c.uuid], items[c].answer_id
        right[split][c.language].append(int(pred == gold))
        top = (majority[c.language, c.relation] - own[c.uuid, c.language]).most_common(1)
        base[split][c.language].append(int(bool(top) and top[0][0] == gold))

    def mean(table: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, float]]:
        return {
            s: {lang: round(sum(v) / len(v), 4) for lang in LANGUAGE_CODES if (v := table[s][lang])}
            for s in SPLIT_NAMES
        }

    return {
        "accuracy": mean(right),
        "baseline": mean(base),
        "queries": {s: {lang: len(right[s][lang]) for lang in LANGUAGE_CODES} for s in SPLIT_NAMES},
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table: one row per split, one column per language."""
    acc, base = report["accuracy"], report["baseline"]

    def cell(split: str, lang: str) -> str:
        if lang not in acc[split]:
            return "-"
        return f"{acc[split][lang]:.2f} ({base[split][lang]:.2f})"

    lines = [f"{'':20}" + "".join(f"{lang:>12}" for lang in LANGUAGE_CODES)]
    for split in SPLIT_NAMES:
        lines.append(f"{split:20}" + "".join(f"{cell(split, lang):>12}" for lang in LANGUAGE_CODES))
    lines.append("top-1 accuracy of the answer's first token (majority baseline in brackets)")
    return "\n".join(lines)
