"""AMIG, Dai et al.'s knowledge neurons and random neurons on synthetic attributions."""

from __future__ import annotations

import pytest
import torch
from localizer_synth import SHAPE, scores_with, synthetic

from harness.localizers import Amig, KnowledgeNeurons, Matrice, RandomNeurons, StaticProvider
from harness.localizers.kn import refine_adjusted
from harness.localizers.random import fact_generator, random_neurons
from harness.localizers.selection import coarse, min_count


def test_coarse_thresholds():
    s = torch.tensor([[1.0, 0.3, 0.2, 0.31, -2.0]])
    assert coarse(s, 0.3, strict=True).tolist() == [[True, False, False, True, False]]
    assert coarse(s, 0.2, strict=False).tolist() == [[True, True, True, True, False]]
    assert not coarse(-s.abs(), 0.3, strict=True).any()  # max <= 0: nothing


def test_min_count():
    assert min_count(0.0, 5) == 1  # union
    assert min_count(0.7, 10) == 7 and min_count(0.7, 9) == 7 and min_count(1.0, 3) == 3


def amig_fact():
    """en: q0 selects (0,1),(0,2); q1 selects (0,1),(0,3) (0.29 < 0.3 · max is not coarse).
    zh: q0 selects (0,1),(0,2); q1 selects (0,1)."""
    en = [scores_with(n0_1=1.0, n0_2=0.5), scores_with(n0_1=1.0, n0_3=0.6, n0_2=0.29)]
    zh = [scores_with(n0_1=2.0, n0_2=1.0), scores_with(n0_1=1.0)]
    return synthetic({"en": en, "zh": zh}, method="amig")


def test_amig_union_per_language_then_intersection():
    fact, provider = amig_fact()
    got = Amig().localize(fact, provider)
    assert got.as_tuples() == [(0, 1), (0, 2)]  # (0, 3) is only in en
    assert got.meta["per_language_selected"] == {"en": 3, "zh": 2}
    assert got.scores[0] == pytest.approx((1 + 1 + 2 + 1) / 4)


def test_amig_share_option():
    fact, provider = amig_fact()
    assert Amig(share=1.0).localize(fact, provider).as_tuples() == [(0, 1)]
    assert Amig(languages=("en",)).localize(fact, provider).as_tuples() == [(0, 1), (0, 2), (0, 3)]


def test_amig_asks_raw_scores_of_its_method():
    calls = []

    class Spy(StaticProvider):
        def attribute(self, query, method="saig", *, steps=None, normalized=True):
            calls.append((method, steps, normalized))
            return super().attribute(query, method, steps=steps, normalized=normalized)

    fact, provider = amig_fact()
    Amig(steps=7).localize(fact, Spy(provider.scores))
    assert set(calls) == {("amig", 7, False)}


def test_kn_threshold_and_refinement():
    # 10 en prompts: (0,1) in all, (0,2) in 7 (= 70 %), (0,3) in 6; zh is ignored.
    en = []
    for t in range(10):
        en.append(scores_with(n0_1=1.0, n0_2=0.2 if t < 7 else 0.0, n0_3=0.5 if t < 6 else 0.0))
    fact, provider = synthetic({"en": en, "zh": [scores_with(n1_1=5.0)]}, method="ig")
    got = KnowledgeNeurons(adjust=False).localize(fact, provider)
    assert got.as_tuples() == [(0, 1), (0, 2)]
    assert got.meta["languages"] == ["en"]
    with pytest.raises(ValueError, match="no queries in language"):
        KnowledgeNeurons(language="ko").localize(fact, provider)


def test_kn_share_adjustment():
    counts = torch.tensor([10, 9, 8, 7, 3, 2, 1])  # prompts (of 10) that select each neuron
    masks = torch.zeros(10, 1, 7, dtype=torch.bool)
    for i, c in enumerate(counts):
        masks[: int(c), 0, i] = True
    kept, share = refine_adjusted(masks, 0.7, 2, 5, 0.05)  # 0.7 keeps 4: in range
    assert int(kept.sum()) == 4 and share == 0.7
    kept, share = refine_adjusted(masks, 0.2, 2, 3, 0.05)  # 0.2 keeps 6: raise the share
    assert int(kept.sum()) == 3 and share == pytest.approx(0.75)  # ceil(7.5) = 8
    kept, share = refine_adjusted(masks, 1.0, 2, 5, 0.05)  # 1.0 keeps 1: lower the share
    assert int(kept.sum()) == 2 and share == pytest.approx(0.9)


def random_fact(uuid: str):
    m = scores_with(n0_1=1.0, n1_2=0.9, n1_5=0.8)
    return synthetic({"en": [m, m], "zh": [m]}, uuid=uuid)


def test_random_is_deterministic_per_seed_and_fact():
    fact, provider = random_fact("u1")
    a = RandomNeurons(count=5).localize(fact, provider)
    b = RandomNeurons(count=5).localize(fact, provider)
    assert torch.equal(a.neurons, b.neurons) and len(a) == 5
    assert len(set(a.as_tuples())) == 5
    c = RandomNeurons(count=5, seed=1).localize(fact, provider)
    other, provider2 = random_fact("u2")
    d = RandomNeurons(count=5).localize(other, provider2)
    assert not torch.equal(a.neurons, c.neurons) and not torch.equal(a.neurons, d.neurons)


def test_random_matches_matrice_count():
    fact, provider = random_fact("u1")
    n = len(Matrice().localize(fact, provider))
    assert n == 3
    got = RandomNeurons().localize(fact, provider)
    assert len(got) == n and got.meta["count"] == n


def test_random_is_uniform_over_layers():
    shape = (4, 50)
    layers = torch.cat([random_neurons(shape, 20, fact_generator(0, f"u{i}"))[:, 0] for i in range(200)])
    share = torch.bincount(layers, minlength=4).float() / len(layers)
    assert (share - 0.25).abs().max() < 0.03
    with pytest.raises(ValueError, match="cannot draw"):
        random_neurons(SHAPE, 17, fact_generator(0, "u"))
