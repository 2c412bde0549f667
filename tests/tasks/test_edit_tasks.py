"""edit-erasure / edit-update: the row edits (Eq. 15), the new object, the measures and the
exact restore, on tiny random GPT-2 and BERT models."""

import math

import pytest
import torch
from task_helpers import FACTS, NSet, context, snapshot, weights_hash

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import predict_batch
from harness.registry import get
from harness.tasks.edit import (
    EditErasure,
    EditUpdate,
    edited_rows,
    erase,
    new_object,
    summarize_edit,
    update,
)
from harness.tasks.pool import first_token, with_answer

PAIRS = [(0, 3), (1, 7), (1, 11), (0, 3)]  # a duplicate: edited once


@pytest.fixture(scope="module", params=["gpt2", "bert"])
def adapter(request):
    model, tok = tiny_model(request.param, seed=0)
    return get_adapter(model, tok)


def _changed_rows(adapter, before):
    """{layer: sorted rows of neuron_output_weights that differ from ``before``}."""
    out = {}
    for layer in range(adapter.n_layers):
        w = adapter.neuron_output_weights(layer)
        diff = (w != before[layer]).any(dim=1).nonzero().flatten().tolist()
        if diff:
            out[layer] = diff
    return out


def test_registered():
    assert get("task", "edit-erasure") is EditErasure
    assert get("task", "edit-update") is EditUpdate


def test_erasure_zeroes_exactly_the_selected_rows_then_restores(adapter):
    h0, params0 = weights_hash(adapter.model), snapshot(adapter.model)
    rows0 = {
        layer: adapter.neuron_output_weights(layer).detach().clone() for layer in range(adapter.n_layers)
    }
    with edited_rows(adapter, NSet(PAIRS), erase):
        assert _changed_rows(adapter, rows0) == {0: [3], 1: [7, 11]}
        for layer, i in PAIRS:
            assert torch.count_nonzero(adapter.neuron_output_weights(layer)[i]) == 0
        moved = [n for n, p in adapter.model.named_parameters() if not torch.equal(p, params0[n])]
        assert len(moved) == 2  # one output projection per layer, nothing else
    assert weights_hash(adapter.model) == h0


def test_restore_happens_on_error(adapter):
    h0 = weights_hash(adapter.model)
    with pytest.raises(RuntimeError), edited_rows(adapter, NSet(PAIRS), erase):
        raise RuntimeError("boom")
    assert weights_hash(adapter.model) == h0


def test_update_arithmetic(adapter):
    h0 = weights_hash(adapter.model)
    e = adapter.output_embedding([5, 9]).detach().clone()
    rows0 = {
        layer: adapter.neuron_output_weights(layer).detach().clone() for layer in range(adapter.n_layers)
    }
    with edited_rows(adapter, NSet(PAIRS), update(e[0], e[1], 1.5, 3.0)):
        assert _changed_rows(adapter, rows0) == {0: [3], 1: [7, 11]}
        for layer, i in set(PAIRS):
            want = rows0[layer][i] - 1.5 * e[0] + 3.0 * e[1]
            torch.testing.assert_close(adapter.neuron_output_weights(layer)[i], want, rtol=0, atol=1e-6)
    assert weights_hash(adapter.model) == h0


def test_new_object_same_relation_seeded_and_different(adapter):
    fact = FACTS["c-fr"]
    ctx = context(adapter)
    q = fact.queries["en"][0]
    uri, labels = new_object(ctx, fact, q)
    assert uri in {"Q64", "Q1490", "Q1757"}  # another capital, never Paris
    assert first_token(ctx, with_answer(q, labels["en"])) != first_token(ctx, q)
    assert set(labels) >= {"en", "fi"}
    assert new_object(context(adapter), fact, q) == (uri, labels)  # same seed, same draw
    draws = {new_object(context(adapter, seed=s), fact, q)[0] for s in range(12)}
    assert len(draws) > 1  # the seed matters


def test_no_other_object_gives_no_record(adapter):
    fact = FACTS["c-fr"]
    ctx = context(adapter, fact_pool=[fact, FACTS["b-da"], FACTS["t-vh"]])
    assert EditUpdate(locality_facts=3).evaluate(ctx, fact, {"a": NSet(PAIRS)}) == []


@pytest.mark.parametrize("task_cls", [EditErasure, EditUpdate])
def test_evaluate_restores_weights_and_records(adapter, task_cls):
    ctx = context(adapter)
    fact = FACTS["c-de"]
    h0 = weights_hash(adapter.model)
    recs = task_cls(locality_facts=3).evaluate(ctx, fact, {"a": NSet(PAIRS), "none": NSet([])})
    assert weights_hash(adapter.model) == h0
    # an empty set edits nothing: no record for it (not an edit that "erased 0%")
    assert [(r["localizer"], r["language"]) for r in recs] == [("a", "en"), ("a", "fi")]
    for r in recs:
        n_q = len(fact.queries[r["language"]])
        assert r["reliability_n"] == 1 and r["generality_n"] == n_q - 1  # correct_only off
        assert r["locality_n"] == 3 and 0 <= r["locality_ok"] <= 3
        assert r["edit_language"] == "en"


def test_budget_edits_each_localizers_top_k(adapter):
    ctx = context(adapter)
    fact = FACTS["c-de"]
    h0 = weights_hash(adapter.model)
    sets = {"a": NSet([(0, 3), (1, 7), (1, 11)]), "short": NSet([(0, 1)])}
    recs = EditErasure(locality_facts=3, budget=2).evaluate(ctx, fact, sets)
    assert weights_hash(adapter.model) == h0
    assert {r["localizer"] for r in recs} == {"a"}  # "short" ranks fewer than 2 neurons
    assert all(r["n_neurons"] == 2 for r in recs)
    with pytest.raises(ValueError, match="budget must be at least 1"):
        EditErasure(budget=0)


def test_erasure_measures_match_a_manual_edit(adapter):
    ctx = context(adapter)
    fact = FACTS["c-jp"]
    recs = EditErasure(locality_facts=3).evaluate(ctx, fact, {"a": NSet(PAIRS)})
    with edited_rows(adapter, NSet(PAIRS), erase):
        for r in recs:
            preds = predict_batch(adapter, fact.queries[r["language"]])
            ok = [p.top_token_id != p.target_token_id for p in preds]
            assert r["reliability_ok"] == int(ok[0])
            assert r["generality_ok"] == sum(ok[1:])


def test_update_measures_match_a_manual_edit(adapter):
    ctx = context(adapter)
    fact = FACTS["c-jp"]
    recs = EditUpdate(locality_facts=3, lambda1=1.0, lambda2=4.0).evaluate(ctx, fact, {"a": NSet(PAIRS)})
    q = fact.queries["en"][0]
    _, labels = new_object(ctx, fact, q)
    old, new = first_token(ctx, q), first_token(ctx, with_answer(q, labels["en"]))
    e = adapter.output_embedding([old, new]).detach().clone()
    with edited_rows(adapter, NSet(PAIRS), update(e[0], e[1], 1.0, 4.0)):
        for r in recs:
            assert r["new_label"] == labels[r["language"]]
            qs = [with_answer(x, labels[r["language"]]) for x in fact.queries[r["language"]]]
            ok = [p.top_token_id == p.target_token_id for p in predict_batch(adapter, qs)]
            assert r["reliability_ok"] == int(ok[0]) and r["generality_ok"] == sum(ok[1:])


def test_correct_only_counts_known_queries(adapter):
    ctx = context(adapter, correct_only=True)
    fact = FACTS["c-fr"]
    recs = EditErasure(locality_facts=3).evaluate(ctx, fact, {"a": NSet(PAIRS)})
    for r in recs:
        known = [p.correct for p in predict_batch(adapter, fact.queries[r["language"]])]
        assert r["reliability_n"] == int(known[0])
        assert r["generality_n"] == sum(known[1:])


def test_summary_from_hand_made_records():
    def rec(loc, lang, fact, rel, gen, loc_):
        return {
            "localizer": loc,
            "language": lang,
            "fact": fact,
            "edit": "update",
            "edit_language": "en",
            "reliability_n": rel[1],
            "reliability_ok": rel[0],
            "generality_n": gen[1],
            "generality_ok": gen[0],
            "locality_n": loc_[1],
            "locality_ok": loc_[0],
        }

    rows = summarize_edit(
        [
            rec("matrice", "fi", "f1", (1, 1), (1, 4), (9, 10)),
            rec("matrice", "fi", "f2", (0, 1), (3, 3), (10, 10)),
            rec("matrice", "fi", "f3", (0, 0), (0, 0), (8, 10)),  # unknown fact: locality only
            rec("random", "fi", "f1", (0, 1), (0, 4), (10, 10)),
        ]
    )
    m, r = rows
    assert (m["localizer"], m["language"]) == ("matrice", "fi")
    assert m["reliability"] == pytest.approx(0.5)
    assert m["generality"] == pytest.approx((0.25 + 1.0) / 2)
    assert m["locality"] == pytest.approx(0.9)
    assert m["mean"] == pytest.approx((0.5 + 0.625 + 0.9) / 3)
    assert (m["facts"], m["reliability_facts"], m["generality_facts"]) == (3, 2, 2)
    assert (m["reliability_queries"], m["generality_queries"], m["locality_queries"]) == (2, 7, 30)
    assert r["reliability"] == 0 and r["locality"] == 1.0
    alone = summarize_edit([rec("a", "en", "f", (0, 0), (0, 0), (1, 1))])[0]
    assert math.isnan(alone["reliability"]) and math.isnan(alone["mean"])
