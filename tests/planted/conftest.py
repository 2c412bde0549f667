"""A toy closed query set for planting tests: 16 facts, 2 languages, 2 templates each."""

from __future__ import annotations

import pytest

from harness.attribution.query import ClozeQuery
from harness.planted.plant import PlantConfig, Universe

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


@pytest.fixture
def toy_config():
    """``toy_config(**overrides)``: a PlantConfig small enough for the toy universe (2 facts,
    one neuron of each kind, relays in layer 0, the rest in layer 1)."""

    def make(**overrides: object) -> PlantConfig:
        base: dict = dict(
            facts=2,
            agnostic=1,
            relays=1,
            decoys=1,
            value_steps=3,
            batch_queries=8,
            preserve_queries=8,
            relay_layers=(0,),
            layers=(1,),
            norm_scale=1.0,
        )
        return PlantConfig(**(base | overrides))

    return make
