"""suppress-enhance, ablation and layer-distribution: Eq. 14, the Table II normalization and
the layer shares, on a tiny random GPT-2."""

import math

import pytest
import torch
from task_helpers import NSet

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery, encode_query
from harness.data import Fact
from harness.tasks.ablation import normalized_to_reference
from harness.tasks.base import TaskContext, by_layer
from harness.tasks.layer_distribution import LayerDistribution
from harness.tasks.suppress_enhance import SuppressEnhance, relative_change, summarize_dp


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def _fact():
    qs = (ClozeQuery("The capital of France is", "Paris"),
          ClozeQuery("Berlin is the capital of", "Germany"))
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


def test_suppress_enhance_matches_manual_hooks(adapter):
    pairs = [(0, 3), (1, 7), (1, 11)]
    ctx = TaskContext(adapter=adapter, correct_only=False)
    recs = SuppressEnhance().evaluate(ctx, _fact(), {"loc": NSet(pairs)})
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


def test_correct_only_filters_queries(adapter):
    ctx = TaskContext(adapter=adapter, correct_only=True)
    recs = SuppressEnhance().evaluate(ctx, _fact(), {"loc": NSet([(0, 1)])})
    assert [r["included"] for r in recs] == [r["correct"] for r in recs]
    for r in recs:
        r["fact"] = "u1"
    rows = summarize_dp(recs)
    assert sum(r["queries"] for r in rows) == sum(r["correct"] for r in recs)


def test_empty_set_changes_nothing(adapter):
    ctx = TaskContext(adapter=adapter, correct_only=False)
    recs = SuppressEnhance().evaluate(ctx, _fact(), {"none": NSet([])})
    assert all(r["dp_suppress"] == 0 and r["dp_enhance"] == 0 for r in recs)


def test_relative_change_eq14():
    assert relative_change(0.5, 0.25) == -0.5
    assert relative_change(0.2, 0.4) == pytest.approx(1.0)
    assert math.isnan(relative_change(0.0, 0.1))


def test_ablation_normalizes_per_language_then_averages():
    rows = [
        {"localizer": "matrice", "language": "en", "dp_enhance": 2.0, "dp_suppress": -0.5, "queries": 4},
        {"localizer": "matrice", "language": "fi", "dp_enhance": 1.0, "dp_suppress": -0.4, "queries": 3},
        {"localizer": "matrice-no-uaq", "language": "en", "dp_enhance": 1.0, "dp_suppress": -0.25,
         "queries": 4},
        {"localizer": "matrice-no-uaq", "language": "fi", "dp_enhance": 1.5, "dp_suppress": -0.2,
         "queries": 3},
    ]
    out = {r["localizer"]: r for r in normalized_to_reference(rows)}
    assert out["matrice"]["enhance"] == 1.0 and out["matrice"]["suppress"] == 1.0
    assert out["matrice-no-uaq"]["enhance"] == pytest.approx((0.5 + 1.5) / 2)
    assert out["matrice-no-uaq"]["suppress"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["matrice-no-uaq"]["languages"] == 2


def test_layer_distribution_shares(adapter):
    ctx = TaskContext(adapter=adapter)
    task = LayerDistribution()
    recs = task.evaluate(ctx, _fact(), {"a": NSet([(0, 1), (0, 2), (1, 5)])})
    for r in recs:
        r["fact"] = "u1"
    rows = {(r["localizer"], r["layer"]): r for r in task.summarize(recs)}
    assert rows[("a", 0)]["share"] == pytest.approx(2 / 3)
    assert rows[("a", 1)]["share"] == pytest.approx(1 / 3)
    grouped = by_layer(NSet([(1, 5), (0, 2), (1, 4)]))
    assert grouped[1].tolist() == [4, 5] and grouped[0].tolist() == [2]
