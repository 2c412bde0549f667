"""inject: which parameters train (gradient masks), Direct_FT, Q_new/Q_old, the restore and
the summary, on tiny random GPT-2 and BERT models."""

from types import SimpleNamespace

import pytest
import torch
from task_helpers import FACTS, NSet, context, fake_predictions, snapshot, weights_hash

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.registry import get
from harness.tasks.inject import (
    DIRECT_FT,
    Inject,
    all_parameters,
    finetune,
    neuron_slices,
    summarize_inject,
)

PAIRS = [(0, 3), (1, 7), (1, 11)]
SPLITS = SimpleNamespace(held_out=("c-jp", "b-ob"), known=("c-fr", "c-de", "b-da", "t-vh"))

# where each family keeps neuron i's slices: parameter name -> how to index it
SLICES = {
    "gpt2": {
        "transformer.h.{l}.mlp.c_fc.weight": lambda i: (slice(None), i),
        "transformer.h.{l}.mlp.c_fc.bias": lambda i: (i,),
        "transformer.h.{l}.mlp.c_proj.weight": lambda i: (i, slice(None)),
    },
    "bert": {
        "bert.encoder.layer.{l}.intermediate.dense.weight": lambda i: (i, slice(None)),
        "bert.encoder.layer.{l}.intermediate.dense.bias": lambda i: (i,),
        "bert.encoder.layer.{l}.output.dense.weight": lambda i: (slice(None), i),
    },
}


@pytest.fixture(scope="module", params=["gpt2", "bert"])
def family(request):
    return request.param


@pytest.fixture(scope="module")
def adapter(family):
    model, tok = tiny_model(family, seed=0)
    return get_adapter(model, tok)


def _expected_masks(adapter, family):
    params = dict(adapter.model.named_parameters())
    want = {}
    for layer, i in PAIRS:
        for pattern, index in SLICES[family].items():
            name = pattern.format(l=layer)
            m = want.setdefault(name, torch.zeros_like(params[name], dtype=torch.bool))
            m[index(i)] = True
    return want


def test_registered():
    assert get("task", "inject") is Inject


def test_neuron_slices_masks(adapter, family):
    got = neuron_slices(adapter, NSet(PAIRS))
    want = _expected_masks(adapter, family)
    assert set(got) == set(want)
    for name, (p, mask) in got.items():
        assert p is dict(adapter.model.named_parameters())[name]
        assert torch.equal(mask, want[name]), name


def test_finetune_changes_only_the_selected_slices(adapter, family):
    fact = FACTS["c-jp"]
    queries = [q for qs in fact.queries.values() for q in qs]
    before, h0 = snapshot(adapter.model), weights_hash(adapter.model)
    trainable = neuron_slices(adapter, NSet(PAIRS))
    try:
        losses = finetune(adapter, queries, trainable, steps=3, lr=1e-2)
        assert len(losses) == 3 and losses[-1] < losses[0]
        for name, p in adapter.model.named_parameters():
            if name not in trainable:
                assert torch.equal(p, before[name]), name  # frozen
                continue
            mask = trainable[name][1]
            assert torch.equal(p[~mask], before[name][~mask]), name  # outside the slices
            assert not torch.equal(p[mask], before[name][mask]), name  # the slices moved
        assert all(p.grad is None for p in adapter.model.parameters())
    finally:
        with torch.no_grad():
            for name, p in adapter.model.named_parameters():
                p.copy_(before[name])
    assert weights_hash(adapter.model) == h0


def test_direct_ft_changes_other_parameters(adapter):
    fact = FACTS["c-jp"]
    queries = [q for qs in fact.queries.values() for q in qs]
    before = snapshot(adapter.model)
    try:
        finetune(adapter, queries, all_parameters(adapter), steps=2, lr=1e-2)
        neuron = set(neuron_slices(adapter, NSet(PAIRS)))
        moved = {n for n, p in adapter.model.named_parameters() if not torch.equal(p, before[n])}
        assert moved - neuron  # attention, embeddings... train too
        assert any("attn" in n or "attention" in n for n in moved)
    finally:
        with torch.no_grad():
            for name, p in adapter.model.named_parameters():
                p.copy_(before[name])


def test_evaluate_restores_and_reports(adapter):
    ctx = context(adapter, splits=SPLITS)
    fact = FACTS["c-jp"]
    h0 = weights_hash(adapter.model)
    task = Inject(steps=2, old_facts=2)
    recs = task.evaluate(ctx, fact, {"a": NSet(PAIRS), "none": NSet([])})
    assert weights_hash(adapter.model) == h0
    # no neurons: nothing to train, no record (not "0 % injected")
    assert [(r["localizer"], r["language"]) for r in recs] == [
        ("a", "en"),
        ("a", "fi"),
        (DIRECT_FT, "en"),
        (DIRECT_FT, "fi"),
    ]
    old = task.old_queries(ctx, ("en", "fi"))
    for r in recs:
        assert r["new_n"] == len(fact.queries[r["language"]]) and r["new_by"] == "split"
        assert r["old_n"] == len(old[r["language"]]) and 0 <= r["old_ok"] <= r["old_n"]
        assert r["steps"] == 2
    by = {(r["localizer"], r["language"]): r for r in recs}
    assert by[("a", "en")]["trained"] == 3 * (2 * adapter.d_model + 1)
    assert by[(DIRECT_FT, "en")]["trained"] == sum(p.numel() for p in adapter.model.parameters())


def test_q_old_sample_is_known_split_and_cached(adapter):
    ctx = context(adapter, splits=SPLITS)
    task = Inject(old_facts=10)
    old = task.old_queries(ctx, ("en", "fi"))
    known = {q for u in SPLITS.known for qs in FACTS[u].queries.values() for q in qs}
    assert all(q in known for qs in old.values() for q in qs)
    assert task.old_queries(ctx, ("en", "fi")) is old


def test_q_new_by_split_or_by_predictions(adapter):
    task = Inject(old_facts=2)
    ctx = context(adapter, splits=SPLITS)
    assert task.is_new(ctx, FACTS["b-ob"]) == "split"
    assert task.is_new(ctx, FACTS["c-fr"]) is None
    assert task.evaluate(ctx, FACTS["c-fr"], {"a": NSet(PAIRS)}) == []
    ctx = context(adapter)  # no split: a fact no query of which is answered right
    fake_predictions(ctx, FACTS["c-fr"], {"en": [False] * 3, "fi": [False, False]})
    assert task.is_new(ctx, FACTS["c-fr"]) == "predictions"
    fake_predictions(ctx, FACTS["c-fr"], {"en": [False] * 3, "fi": [False, True]})
    assert task.is_new(ctx, FACTS["c-fr"]) is None


def test_summary_from_hand_made_records():
    def rec(loc, lang, new, before, old):
        return {
            "localizer": loc,
            "language": lang,
            "new_n": new[1],
            "new_ok": new[0],
            "new_ok_before": before,
            "old_n": old[1],
            "old_ok": old[0],
        }

    rows = summarize_inject(
        [
            rec("matrice", "en", (4, 4), 0, (9, 10)),
            rec("matrice", "en", (1, 2), 1, (7, 10)),
            rec(DIRECT_FT, "en", (3, 3), 0, (2, 10)),
        ]
    )
    ft, m = rows
    assert (m["localizer"], m["language"]) == ("matrice", "en")
    assert m["new_accuracy"] == pytest.approx(0.75)
    assert m["new_accuracy_before"] == pytest.approx(0.25)
    assert m["old_accuracy"] == pytest.approx(0.8)
    assert m["average"] == pytest.approx((0.75 + 0.8) / 2)
    assert (m["facts"], m["new_queries"], m["old_queries"]) == (2, 6, 10)
    assert ft["localizer"] == DIRECT_FT and ft["old_accuracy"] == pytest.approx(0.2)
