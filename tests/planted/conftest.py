"""A toy closed query set for planting tests: 16 facts, 2 languages, 2 templates each."""

from __future__ import annotations

import pytest

from harness.attribution.query import ClozeQuery
from harness.planted.plant import Universe

WORDS = [
    "Paris",
    "Berlin",
    "Tokyo",
    "Helsinki",
    "Florence",
    "Honolulu",
    "Poland",
    "France",
    "Japan",
    "Germany",
    "physics",
    "French",
    "capital",
    "tower",
    "born",
    "citizen",
]


@pytest.fixture
def toy_universe() -> Universe:
    """Facts f0, f1 planted; f4..f15 known; f2, f3 other negatives."""
    queries, fact_of, lang_of = [], [], []
    for i, subject in enumerate(WORDS):
        for lang, templates in (("en", ("The {} is in", "{} lies in")), ("fi", ("Where is {}:", "{} is at"))):
            for t in templates:
                queries.append(ClozeQuery(t.format(subject), WORDS[(i + 3) % len(WORDS)]))
                fact_of.append(f"f{i}")
                lang_of.append(lang)
    return Universe(queries, fact_of, lang_of, planted=["f0", "f1"], known=[f"f{i}" for i in range(4, 16)])
