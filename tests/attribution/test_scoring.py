"""Answer probabilities and predictions, batched and under interventions."""

from __future__ import annotations

import pytest
import torch

from harness.attribution import (
    ClozeQuery,
    answer_probabilities,
    answer_probability,
    encode_query,
    predict,
    predict_batch,
)

from .conftest import MULTI, SINGLE

QUERIES = [
    SINGLE,
    MULTI,
    ClozeQuery("Berlin is the capital of", "Germany", "."),
    ClozeQuery("Tokyo is", "Japan"),
]


def manual_full_object_probability(adapter, query: ClozeQuery) -> float:
    """Independent: causal - one forward per object token on the growing gold prefix;
    masked - softmax at each mask of one forward."""
    tok, model = adapter.tokenizer, adapter.model
    enc = encode_query(adapter, query, full_object=True)
    prob = 1.0
    with torch.no_grad():
        if adapter.is_causal:
            ids = enc.input_ids[: enc.prompt_length].tolist()
            for t in enc.object_ids.tolist():
                logits = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, -1]
                prob *= logits.float().softmax(-1)[t].item()
                ids.append(t)
        else:
            logits = model(input_ids=enc.input_ids[None].to(model.device)).logits[0]
            masks = (enc.input_ids == tok.mask_token_id).nonzero()[:, 0].tolist()
            for pos, t in zip(masks, enc.object_ids.tolist(), strict=True):
                prob *= logits[pos].float().softmax(-1)[t].item()
    return prob


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_probabilities_match_manual_computation(make_adapter, family):
    adapter = make_adapter(family)
    for q in (SINGLE, MULTI):
        full = answer_probability(adapter, q, full_object=True)
        assert full == pytest.approx(manual_full_object_probability(adapter, q), rel=1e-4)
    # one object token: the same number; three: a product of three factors < 1
    assert answer_probability(adapter, SINGLE, full_object=True) == pytest.approx(
        answer_probability(adapter, SINGLE), rel=1e-6
    )
    assert answer_probability(adapter, MULTI, full_object=True) < answer_probability(adapter, MULTI)


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
@pytest.mark.parametrize("full_object", [False, True])
def test_batched_equals_one_by_one(make_adapter, family, full_object):
    adapter = make_adapter(family)
    batched = answer_probabilities(adapter, QUERIES, full_object=full_object, batch_size=3)
    single = [answer_probability(adapter, q, full_object=full_object) for q in QUERIES]
    assert batched == pytest.approx(single, rel=1e-4)
    assert len(set(batched)) == len(QUERIES)


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_predict(make_adapter, family):
    adapter = make_adapter(family)
    preds = predict_batch(adapter, QUERIES, batch_size=2)
    for q, p in zip(QUERIES, preds, strict=True):
        enc = encode_query(adapter, q)
        with torch.no_grad():
            ids = enc.input_ids[None].to(adapter.device)
            logits = adapter.model(input_ids=ids).logits[0, enc.target_position]
        assert p.top_token_id == int(logits.argmax())
        assert p.target_token_id == int(enc.object_ids[0])
        assert p.correct == (p.top_token_id == p.target_token_id)
        assert p.probability == pytest.approx(answer_probability(adapter, q), rel=1e-4)
    alone = predict(adapter, QUERIES[0])  # batch of one: same token, same probability
    assert alone.top_token_id == preds[0].top_token_id
    assert alone.probability == pytest.approx(preds[0].probability, rel=1e-4)


def test_predict_correct_when_the_answer_is_the_argmax(make_adapter):
    adapter = make_adapter("gpt2")
    top = predict(adapter, SINGLE).top_token_id
    answer = adapter.tokenizer.decode([top])
    q = ClozeQuery(SINGLE.prefix, answer, space=False)
    assert encode_query(adapter, q).object_ids[0].item() == top
    assert predict(adapter, q).correct


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_intervention_applies_at_each_query_target(make_adapter, family):
    """Batched suppress at the target positions equals a manual hook at that position."""
    adapter = make_adapter(family)
    neurons = torch.arange(0, adapter.n_neurons, 3)
    spec = {1: (neurons, "set", 0.0)}
    with adapter.intervene(spec):
        suppressed = answer_probabilities(adapter, QUERIES, batch_size=4)
    for q, p in zip(QUERIES, suppressed, strict=True):
        enc = encode_query(adapter, q)

        def hook(_m, args, enc=enc):
            act = args[0].clone()
            act[0, enc.target_position, neurons] = 0.0
            return (act,)

        h = adapter.ffn_output_projection(1).register_forward_pre_hook(hook)
        try:
            with torch.no_grad():
                ids = enc.input_ids[None].to(adapter.device)
                logits = adapter.model(input_ids=ids).logits[0, enc.target_position]
        finally:
            h.remove()
        manual = logits.float().softmax(-1)[enc.object_ids[0]].item()
        assert p == pytest.approx(manual, rel=1e-4)
    assert suppressed != pytest.approx(answer_probabilities(adapter, QUERIES), rel=1e-3)


def test_bf16_probabilities_are_float32_softmax(make_adapter):
    adapter = make_adapter("llama", dtype=torch.bfloat16)
    p = answer_probability(adapter, SINGLE)
    ref = answer_probability(make_adapter("llama"), SINGLE)
    assert isinstance(p, float) and p == pytest.approx(ref, rel=0.1)


def test_picked_log_softmax_gradient_matches_autograd():
    from harness.attribution.scoring import _PickedLogSoftmax

    z = torch.randn(3, 2, 7, dtype=torch.float64, requires_grad=True)
    ids = torch.tensor([[1, 6], [0, 0], [3, 2]])
    assert torch.autograd.gradcheck(_PickedLogSoftmax.apply, (z, ids))
    plain = z.log_softmax(-1).gather(-1, ids[..., None])[..., 0]
    w = torch.randn(3, 2, dtype=torch.float64)
    (g1,) = torch.autograd.grad((plain * w).sum(), z)
    (g2,) = torch.autograd.grad((_PickedLogSoftmax.apply(z, ids) * w).sum(), z)
    assert torch.allclose(g1, g2)


def test_predict_counts_any_valid_object_as_correct(make_adapter):
    """A top-1 prediction of another valid object's first token is correct; P(answer)
    stays that of the target object."""
    adapter = make_adapter("gpt2")
    top = predict(adapter, SINGLE).top_token_id
    argmax = adapter.tokenizer.decode([top])
    wrong = next(
        w
        for w in ("zebra", "quartz", "olive")
        if encode_query(adapter, ClozeQuery(SINGLE.prefix, w, space=False)).object_ids[0] != top
    )
    plain = ClozeQuery(SINGLE.prefix, wrong, space=False)
    other = ClozeQuery(SINGLE.prefix, wrong, space=False, alternatives=("kiwi", argmax))
    enc = encode_query(adapter, other)
    assert enc.accepted_ids[0] == enc.object_ids[0] and top in enc.accepted_ids.tolist()
    p_plain, p_other = predict(adapter, plain), predict(adapter, other)
    assert not p_plain.correct and p_other.correct
    assert p_other.target_token_id == p_plain.target_token_id
    assert p_other.probability == pytest.approx(p_plain.probability, rel=1e-6)
    assert answer_probability(adapter, other) == pytest.approx(answer_probability(adapter, plain))
    # batched and one by one agree
    batch = predict_batch(adapter, [plain, other, other, plain], batch_size=3)
    assert [p.correct for p in batch] == [False, True, True, False]


def test_prediction_correct_is_membership():
    from harness.attribution.scoring import Prediction

    assert Prediction(5, 5, 0.1).correct
    assert not Prediction(5, 6, 0.1).correct
    assert Prediction(5, 6, 0.1, frozenset({7, 5})).correct
    assert not Prediction(5, 6, 0.1, frozenset({7})).correct
