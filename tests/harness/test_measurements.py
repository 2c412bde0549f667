"""Matched budgets, rankings, the cross-language matrix, --known-only and the console report."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery
from harness.data import Fact
from harness.localizers.amig import Amig
from harness.localizers.matrice import Matrice, MatriceNoUaL, MatriceNoUaQ
from harness.stats import area_under_curve
from harness.tasks.base import TaskContext
from harness.tasks.budget import SuppressEnhanceK, parse_budgets, top_k
from harness.tasks.cross_language import CrossLanguage


class NSet:
    def __init__(self, pairs, meta=None):  # a neuron set, with meta
        self.neurons = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
        self.scores = torch.ones(len(pairs))
        self.meta = meta or {}


class FakeProvider:
    """Seeded random attributions per query text (a stand-in for the engine)."""

    def __init__(self, shape):
        self.shape = shape

    def attribute(self, query, method="saig", *, steps=None, normalized=True):
        g = torch.Generator().manual_seed(sum(map(ord, query.prefix + method)))
        return torch.randn(self.shape, generator=g) + 0.5


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def _fact():
    qs = {
        "en": (ClozeQuery("The capital of France is", "Paris"), ClozeQuery("France's capital is", "Paris")),
        "fr": (ClozeQuery("La capitale de la France est", "Paris"),),
    }
    return Fact("u1", "P36", qs)


def test_top_k_orders_and_skips_non_finite():
    s = torch.tensor([[0.1, 0.9, float("-inf")], [0.5, 0.9, 0.2]])
    assert top_k(s, 3) == [(0, 1), (1, 1), (1, 0)]  # tie at 0.9: layer 0 first
    assert len(top_k(s, 10)) == 5


def test_parse_budgets():
    assert parse_budgets("20,5,10,5") == (5, 10, 20)
    assert parse_budgets(7) == (7,)
    with pytest.raises(ValueError, match="budgets.*integers"):
        parse_budgets("5,ten")
    with pytest.raises(ValueError, match="at least 1"):
        parse_budgets("0,5")


@pytest.mark.parametrize("localizer", [Matrice(), MatriceNoUaQ(), MatriceNoUaL(tau=0.2), Amig(threshold=0.5)])
def test_selection_is_the_top_of_its_ranking(localizer):
    """Fixed-k budgets extend the localizer's own choice: its set is the top |set| of score_map."""
    provider = FakeProvider((3, 40))
    chosen = localizer.localize(_fact(), provider)
    assert len(chosen) > 0
    ranked = top_k(localizer.score_map(_fact(), provider), len(chosen))
    assert set(ranked) == set(chosen.as_tuples())


def test_budgets_rank_by_score_map_and_count_short_rankings(adapter):
    L, N = adapter.n_layers, adapter.n_neurons
    scores = torch.full((L, N), float("-inf"))
    scores[0, :7] = torch.arange(7, 0, -1).float()  # 7 ranked neurons: k=10 is "fewer than k"
    ranked_loc = SimpleNamespace(score_map=lambda fact, provider: scores)
    ctx = TaskContext(
        adapter=adapter,
        correct_only=False,
        provider=object(),  # type: ignore[arg-type]
        localizers={"ranked": ranked_loc},
    )  # type: ignore[dict-item]
    sets = {
        "ranked": NSet([(0, 0)]),
        "plain": NSet([(1, 3), (1, 4)]),  # plain: its own order
        "random": NSet([(0, 9)], {"localizer": "random"}),
    }
    task = SuppressEnhanceK(budgets="2,5,10")  # type: ignore[arg-type]  # as from the CLI
    assert task.budgets == (2, 5, 10)
    recs = task.evaluate(ctx, _fact(), sets)
    got = {(r["localizer"], r["k"], r["condition"]): r["n_neurons"] for r in recs}
    assert got[("ranked", 2, "own")] == 2 and got[("ranked", 5, "own")] == 5
    assert got[("ranked", 10, "own")] == 0  # counted as no neurons, not ΔP 0
    assert got[("plain", 2, "own")] == 2 and got[("plain", 5, "own")] == 0
    assert got[("ranked", 5, "random")] == 5 and ("random", 5, "random") not in got
    for r in recs:
        r["fact"] = "u1"
    rows = task.summarize(recs)
    ranked = {r["k"]: r for r in rows if r["localizer"] == "ranked"}
    assert ranked[10]["no_neurons"] == 1 and math.isnan(ranked[10]["dp_suppress"])
    assert math.isnan(ranked["area"]["dp_suppress"])  # a missing point: no area
    rnd = {r["k"]: r for r in rows if r["localizer"] == "random"}
    expected = area_under_curve([2, 5, 10], [rnd[k]["dp_suppress"] for k in (2, 5, 10)])
    assert rnd["area"]["dp_suppress"] == pytest.approx(expected)


def test_cross_language_localizes_per_source_language(adapter):
    seen = []

    class PerLanguage:
        def localize(self, fact, provider):
            (lang,) = fact.queries
            seen.append(lang)
            return NSet([(0, 1)] if lang == "en" else [])  # fr alone finds nothing

    ctx = TaskContext(
        adapter=adapter,
        correct_only=False,
        provider=object(),  # type: ignore[arg-type]
        localizers={"loc": PerLanguage()},
    )  # type: ignore[dict-item]
    recs = CrossLanguage().evaluate(ctx, _fact(), {"loc": NSet([(0, 1)])})
    assert seen == ["en", "fr"]
    pairs = {(s, t) for s in ("en", "fr") for t in ("en", "fr")}
    assert {(r["source"], r["language"]) for r in recs} == pairs
    for r in recs:
        r["fact"] = "u1"
    rows = {(r["source"], r["language"]): r for r in CrossLanguage().summarize(recs)}
    assert rows[("fr", "en")]["no_neurons"] == 1 and math.isnan(rows[("fr", "en")]["dp_suppress"])
    assert rows[("all", "same")]["queries"] == 2  # en→en only: fr→fr has no neurons
    assert rows[("all", "other")]["queries"] == 1  # en→fr
    with pytest.raises(ValueError, match="provider"):
        CrossLanguage().evaluate(TaskContext(adapter=adapter), _fact(), {})


def test_known_facts_needs_every_language(monkeypatch):
    import harness.known as known

    right = {"en": True, "fr": False}

    def fake_predict(adapter, queries, batch_size=16):
        lang = "fr" if queries[0].prefix.startswith("La") else "en"
        return [SimpleNamespace(correct=right[lang]) for _ in queries]

    monkeypatch.setattr(known, "predict_batch", fake_predict)
    only_en = Fact("u2", "P36", {"en": _fact().queries["en"]})
    assert list(known.known_facts(None, [_fact(), only_en])) == [only_en]
    right["fr"] = True
    assert list(known.known_facts(None, [_fact(), only_en], limit=1)) == [_fact()]


def test_console_tables_keep_headers_and_show_dashes():
    from harness.summary import summary_text

    row = {
        "localizer": "matrice",
        "language": "en",
        "dp_suppress": -0.25,
        "dp_suppress_ci_low": -0.4,
        "dp_suppress_ci_high": -0.1,
        "random_dp_suppress": -0.01,
        "p_dp_suppress": 0.004,
        "dp_enhance": float("nan"),
        "facts": 8,
        "queries": 31,
        "no_neurons": 2,
        "neurons": 9.5,
    }
    text = summary_text(
        {
            "config": {"model": "tiny-gpt"},
            "tasks": {"suppress-enhance": [row], "inject": []},
            "empty": {"inject": "no records from 3 facts"},
        }
    )
    assert "ΔP suppress [95% CI]" in text and "-25.0% [-40.0, -10.0]" in text
    assert "p=0.004*" in text and "8/31" in text and "—" in text
    assert "(no results: no records from 3 facts)" in text
