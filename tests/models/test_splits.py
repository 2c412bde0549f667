"""The known / high-resource-only / held-out split of the tiny models."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.models.facts import clozes, read_rows
from harness.models.splits import (
    SPLIT_NAMES,
    TRAIN_LANGUAGES,
    SplitConfig,
    Splits,
    eligible_facts,
    make_splits,
)

CONFIG = SplitConfig(known=30, high_resource_only=12, held_out=12, seed=3)


@pytest.fixture(scope="module")
def rows(synthetic_dataset: Path):  # noqa: ANN201
    return read_rows(synthetic_dataset)


def test_sizes_disjoint_and_eligible(rows) -> None:  # noqa: ANN001
    splits = make_splits(rows, CONFIG)
    groups = [set(splits.of(s)) for s in SPLIT_NAMES]
    assert [len(g) for g in groups] == [30, 12, 12]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    eligible = eligible_facts(rows)
    assert set().union(*groups) <= set(eligible)
    assert "u00002" not in eligible  # missing in ja
    assert "u00001" not in eligible and "u00013" not in eligible  # contradicting objects
    assert len(rows["en"]) - len(eligible) == 3


def test_deterministic_and_seeded(rows) -> None:  # noqa: ANN001
    assert make_splits(rows, CONFIG) == make_splits(rows, CONFIG)
    other = make_splits(rows, SplitConfig(**{**CONFIG.__dict__, "seed": 4}))
    assert other.known != make_splits(rows, CONFIG).known


def test_stratified_over_relations(rows) -> None:  # noqa: ANN001
    splits = make_splits(rows, CONFIG)
    relation = eligible_facts(rows)
    for split in SPLIT_NAMES:  # 6 relations: every split draws from all of them
        counts = Counter(relation[u] for u in splits.of(split))
        assert len(counts) == 6
        assert max(counts.values()) - min(counts.values()) <= 1 + len(splits.of(split)) // 6


def test_languages_and_json(rows, tmp_path: Path) -> None:  # noqa: ANN001
    splits = make_splits(rows, CONFIG)
    assert TRAIN_LANGUAGES["high_resource_only"] == ("zh", "en", "fr")
    hro = splits.high_resource_only[0]
    assert splits.trained(hro, "en") and not splits.trained(hro, "fi")
    assert splits.trained(splits.known[0], "ko") and not splits.trained(splits.held_out[0], "en")
    assert splits.split_of[splits.held_out[1]] == "held_out"
    splits.save(tmp_path / "splits.json")
    assert Splits.load(tmp_path / "splits.json") == splits


def test_too_many_facts_and_missing_language(rows) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="only 70 facts"):
        make_splits(rows, SplitConfig(known=60, high_resource_only=10, held_out=10))
    with pytest.raises(ValueError, match="ko"):
        make_splits({k: v for k, v in rows.items() if k != "ko"}, CONFIG)


def test_clozes_rebuild_the_sentence(rows) -> None:  # noqa: ANN001
    for lang in ("en", "zh"):
        row = rows[lang][0]
        for c, template in zip(clozes(row), row["templates"], strict=True):
            full = template.replace("[X]", row["subject"]).replace("[Y]", row["object"])
            assert c.sentence == full
            assert c.answer == (" " if lang == "en" else "") + row["object"]
