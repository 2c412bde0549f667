"""suppress-enhance, ablation and layer-distribution: Eq. 14, the Table II normalization and
the layer shares, on a tiny random GPT-2."""

import math

import pytest
import torch
from task_helpers import NSet

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery, encode_query
from harness.data import Fact, FactPool
from harness.tasks.ablation import normalized_to_reference
from harness.tasks.base import TaskContext, by_layer
from harness.tasks.layer_distribution import LayerDistribution
from harness.tasks.suppress_enhance import SuppressEnhance, relative_change, summarize_dp


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def _fact():
    qs = (ClozeQuery("The capital of France is", "Paris"), ClozeQuery("Berlin is the capital of", "Germany"))
    return Fact(uuid="u1", relation="P36", queries={"en": qs})


def _manual_prob(adapter, query, pairs, mode, value):
    """P(first object token) with a hand-written hook on GPT-2's mlp.act output."""
    enc = encode_query(adapter, query)
    handles = []
    for layer, idx in pairs:

        def hook(_m, _inp, out, idx=idx):
            out = out.clone()
            cur = out[0, enc.target_position, idx]
            out[0, enc.target_position, idx] = 0.0 if mode == "set" else cur * value
            return out

        handles.append(adapter.model.transformer.h[layer].mlp.act.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = adapter.model(enc.input_ids[None]).logits[0, enc.target_position]
    finally:
        for h in handles:
            h.remove()
    return logits.float().softmax(-1)[enc.answer_ids[0]].item()


def test_languages_batched_together_match_manual_hooks(adapter):
    """All languages of a fact go through one padded batch per manipulation: queries of
    different lengths in other languages must not change any query's P."""
    pairs = [(0, 3), (1, 5)]
    fact = Fact(
        uuid="u2",
        relation="P36",
        queries={
            "en": (ClozeQuery("The capital of France is", "Paris"),),
            "fr": (ClozeQuery("La capitale de la France, pays d'Europe occidentale, est", "Paris"),),
            "fi": (ClozeQuery("Ranskan", "Pariisi"), ClozeQuery("Ranskan pääkaupunki on", "Pariisi")),
        },
    )
    ctx = TaskContext(adapter=adapter, correct_only=False, batch_size=3)
    recs = [
        r
        for r in SuppressEnhance(other_facts=0).evaluate(ctx, fact, {"loc": NSet(pairs)})
        if r["condition"] == "own"
    ]
    assert [(r["language"], r["query"]) for r in recs] == [("en", 0), ("fr", 0), ("fi", 0), ("fi", 1)]
    for r in recs:
        q = fact.queries[r["language"]][r["query"]]
        assert r["p_suppress"] == pytest.approx(_manual_prob(adapter, q, pairs, "set", 0.0), rel=1e-5)
        assert r["p_enhance"] == pytest.approx(_manual_prob(adapter, q, pairs, "scale", 2.0), rel=1e-5)


def test_suppress_enhance_matches_manual_hooks(adapter):
    pairs = [(0, 3), (1, 7), (1, 11)]
    ctx = TaskContext(adapter=adapter, correct_only=False)
    recs = [
        r
        for r in SuppressEnhance(other_facts=0).evaluate(ctx, _fact(), {"loc": NSet(pairs)})
        if r["condition"] == "own"
    ]
    assert len(recs) == 2 and all(r["included"] for r in recs)
    for r, q in zip(recs, _fact().queries["en"], strict=True):
        before = _manual_prob(adapter, q, [], "scale", 1.0)
        sup = _manual_prob(adapter, q, pairs, "set", 0.0)
        enh = _manual_prob(adapter, q, pairs, "scale", 2.0)
        assert r["p_before"] == pytest.approx(before, rel=1e-5)
        assert r["p_suppress"] == pytest.approx(sup, rel=1e-5)
        assert r["p_enhance"] == pytest.approx(enh, rel=1e-5)
        # ΔP is a difference of nearly equal numbers: compare it absolutely
        assert r["dp_enhance"] == pytest.approx((enh - before) / before, abs=1e-5)
        assert r["dp_suppress"] == pytest.approx((sup - before) / before, abs=1e-5)
        assert sup != pytest.approx(before, rel=1e-7)  # the intervention did something
        lo = math.log(enh / (1 - enh)) - math.log(before / (1 - before))
        assert r["dlo_enhance"] == pytest.approx(lo, abs=1e-4)


def test_correct_only_filters_queries(adapter):
    ctx = TaskContext(adapter=adapter, correct_only=True)
    recs = [
        r
        for r in SuppressEnhance(other_facts=0).evaluate(ctx, _fact(), {"loc": NSet([(0, 1)])})
        if r["condition"] == "own"
    ]
    assert [r["included"] for r in recs] == [r["correct"] for r in recs]
    for r in recs:
        r["fact"] = "u1"
    rows = [r for r in summarize_dp(recs) if r["language"] != "all"]
    assert sum(r["queries"] for r in rows) == sum(r["correct"] for r in recs)
    # a query that is not included is not manipulated: no after-value
    assert all(math.isnan(r["p_suppress"]) for r in recs if not r["included"])


def test_empty_set_is_no_neurons_not_zero(adapter):
    ctx = TaskContext(adapter=adapter, correct_only=False)
    recs = SuppressEnhance(other_facts=0).evaluate(ctx, _fact(), {"none": NSet([])})
    assert recs and all(r["empty"] and math.isnan(r["dp_suppress"]) for r in recs)
    assert all(r["condition"] == "own" for r in recs)  # no Random of size 0
    for r in recs:
        r["fact"] = "u1"
    row = next(r for r in summarize_dp(recs) if r["language"] == "en")
    assert row["no_neurons"] == 1 and row["facts"] == 0 and math.isnan(row["dp_suppress"])


def test_own_random_matches_the_count_and_is_the_random_localizers_draw(adapter):
    from harness.localizers.random import fact_generator, random_neurons
    from harness.tasks.suppress_enhance import random_pairs

    ctx = TaskContext(adapter=adapter, correct_only=False, seed=3)
    sets = {"a": NSet([(0, 1), (1, 2), (1, 3)]), "b": NSet([(0, 4)])}
    recs = SuppressEnhance(other_facts=0).evaluate(ctx, _fact(), sets)
    ctl = {(r["localizer"], r["condition"]): r["n_neurons"] for r in recs}
    assert ctl[("a", "random")] == 3 and ctl[("b", "random")] == 1
    shape = (adapter.n_layers, adapter.n_neurons)
    drawn = random_neurons(shape, 3, fact_generator(3, "u1")).tolist()
    assert random_pairs(ctx, _fact(), 3) == [tuple(p) for p in drawn]
    # the registered random localizer is not given a Random of its own
    meta_set = NSet([(0, 1)])
    meta_set.meta = {"localizer": "random"}  # type: ignore[attr-defined]
    recs = SuppressEnhance(other_facts=0).evaluate(ctx, _fact(), {"rnd": meta_set})
    assert {r["condition"] for r in recs} == {"own"}


def test_specificity_measures_other_known_facts(adapter):
    other = Fact("u2", "P17", {"en": (ClozeQuery("Paris is located in", "France"),)})
    same_rel = Fact("u3", "P36", {"en": (ClozeQuery("The capital of Italy is", "Rome"),)})
    ctx = TaskContext(adapter=adapter, correct_only=False, pool=FactPool.of([same_rel, other, _fact()]))
    recs = SuppressEnhance(other_facts=2).evaluate(ctx, _fact(), {"a": NSet([(0, 1), (1, 2)])})
    oth = [r for r in recs if r["scope"] == "other"]
    assert oth and {r["other_fact"] for r in oth} == {"u2"}  # same relation and itself excluded
    for r in recs:
        r["fact"] = "u1"
    row = next(r for r in summarize_dp(recs) if r["language"] == "en")
    assert row["queries_other"] == 1
    assert row["dp_suppress_other"] == pytest.approx(oth[0]["dp_suppress"])


def test_relative_change_eq14():
    assert relative_change(0.5, 0.25) == -0.5
    assert relative_change(0.2, 0.4) == pytest.approx(1.0)
    assert math.isnan(relative_change(0.0, 0.1))


def _row(loc, lang, enh, sup, ci=0.1, queries=4):
    return {
        "localizer": loc,
        "language": lang,
        "dp_enhance": enh,
        "dp_suppress": sup,
        "queries": queries,
        "dp_enhance_ci_low": enh - ci,
        "dp_enhance_ci_high": enh + ci,
        "dp_suppress_ci_low": sup - ci,
        "dp_suppress_ci_high": sup + ci,
    }


def test_ablation_normalizes_per_language_then_averages():
    rows = [
        _row("matrice", "en", 2.0, -0.5),
        _row("matrice", "fi", 1.0, -0.4),
        _row("matrice-no-uaq", "en", 1.0, -0.25),
        _row("matrice-no-uaq", "fi", 1.5, -0.2),
    ]
    out = {r["localizer"]: r for r in normalized_to_reference(rows)}
    assert out["matrice"]["enhance"] == 1.0 and out["matrice"]["suppress"] == 1.0
    assert out["matrice"]["average"] == 1.0
    assert out["matrice-no-uaq"]["enhance"] == pytest.approx((0.5 + 1.5) / 2)
    assert out["matrice-no-uaq"]["suppress"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["matrice-no-uaq"]["average"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["matrice-no-uaq"]["languages_enhance"] == 2


def test_ablation_skips_languages_where_matrice_is_noise():
    # ja: MATRICE's suppress interval includes 0 -> the 10x ratio there is not used
    rows = [
        _row("matrice", "en", 2.0, -0.5),
        _row("matrice", "ja", 1.0, -0.05, ci=0.2),
        _row("matrice-no-uaq", "en", 1.0, -0.25),
        _row("matrice-no-uaq", "ja", 1.0, -0.5),
    ]
    out = {r["localizer"]: r for r in normalized_to_reference(rows)}
    assert out["matrice-no-uaq"]["suppress"] == pytest.approx(0.5)
    assert out["matrice-no-uaq"]["languages_suppress"] == 1
    wrong_sign = [
        _row("matrice", "en", 2.0, -0.5),
        _row("matrice", "hu", 1.0, 0.3),
        _row("matrice-no-uaq", "en", 1.0, -0.25),
        _row("matrice-no-uaq", "hu", 1.0, -0.5),
    ]
    out = {r["localizer"]: r for r in normalized_to_reference(wrong_sign)}
    assert out["matrice-no-uaq"]["suppress"] == pytest.approx(0.5)  # hu: MATRICE raised P
    only_noise = [_row("matrice", "ja", 1.0, -0.05, ci=0.2), _row("matrice-no-uaq", "ja", 1.0, -0.5)]
    out = {r["localizer"]: r for r in normalized_to_reference(only_noise)}
    assert math.isnan(out["matrice-no-uaq"]["suppress"]) and math.isnan(out["matrice-no-uaq"]["average"])
    assert "not significantly below 0" in out["matrice-no-uaq"]["why_suppress"]
    assert "ja" in out["matrice-no-uaq"]["why_suppress"]


def test_layer_distribution_shares(adapter):
    ctx = TaskContext(adapter=adapter)
    task = LayerDistribution()
    recs = task.evaluate(ctx, _fact(), {"a": NSet([(0, 1), (0, 2), (1, 5)])})
    for r in recs:
        r["fact"] = "u1"
    rows = {(r["localizer"], r["layer"]): r for r in task.summarize(recs)}
    assert rows[("a", 0)]["share"] == pytest.approx(2 / 3)
    assert rows[("a", 1)]["share"] == pytest.approx(1 / 3)
    empty = task.evaluate(ctx, _fact(), {"none": NSet([])})
    for r in empty:
        r["fact"] = "u1"
    assert all(math.isnan(r["share"]) for r in task.summarize(empty))  # no neurons: no share, not 0
    grouped = by_layer(NSet([(1, 5), (0, 2), (1, 4)]))
    assert grouped[1].tolist() == [4, 5] and grouped[0].tolist() == [2]
