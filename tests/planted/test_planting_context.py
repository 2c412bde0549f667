"""Other positions as key negatives (masked LMs): what collect() reads there, what planting
does with it, and which families get it."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

from harness.attribution.query import ClozeQuery, encode_query
from harness.planted.features import collect, context_positions, key_params, pre_activations
from harness.planted.finetune import FinetuneConfig
from harness.planted.model import MASKED_LM_CONTEXT_NEGATIVES, MASKED_LM_KEEP, _hashed, family_config
from harness.planted.plant import PlantConfig, plant


def test_context_positions_leave_out_the_target_and_cap_the_count():
    g = torch.Generator().manual_seed(0)
    assert context_positions(5, 2, 10, g).tolist() == [0, 1, 3, 4]
    few = context_positions(12, 7, 3, g)
    assert len(few) == 3 and 7 not in few.tolist() and few.tolist() == sorted(few.tolist())
    assert len(set(few.tolist())) == 3


def _all_positions(adapter, q: ClozeQuery, layer: int) -> tuple[torch.Tensor, int]:
    """[S, D] the FFN input at every position of one query (a plain unpadded forward)."""
    enc = encode_query(adapter, q)
    kp = key_params(adapter, layer)
    seen = {}
    handle = kp.module.register_forward_pre_hook(lambda _m, args: seen.setdefault("x", args[0][0]))
    try:
        with torch.no_grad():
            adapter.forward(torch.as_tensor(enc.input_ids).reshape(1, -1).to(adapter.device))
    finally:
        handle.remove()
    return seen["x"].float().cpu(), enc.target_position


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_collect_context_rows_are_the_other_positions(make_adapter, family):
    adapter = make_adapter(family)
    qs = [ClozeQuery("The capital of France is", "Paris"), ClozeQuery("Tokyo is a city in", "Japan")]
    plain = collect(adapter, qs, batch_size=2)
    feats = collect(adapter, qs, batch_size=2, context=1000)  # every other position
    assert plain.ctx is None and feats.ctx is not None
    assert torch.allclose(plain.x, feats.x, atol=1e-6)  # asking for context changes nothing else
    for layer in range(adapter.n_layers):
        want = []
        for q in qs:
            x, target = _all_positions(adapter, q, layer)
            want += [x[p] for p in range(len(x)) if p != target]
            # the target row is not among the context rows
            assert not any(torch.allclose(x[target], r, atol=1e-5) for r in feats.ctx[:, layer])
        assert len(feats.ctx) == len(want)
        assert feats.ctx_of is not None and feats.ctx_of.tolist() == sorted(feats.ctx_of.tolist())
        counts = [int((feats.ctx_of == i).sum()) for i in range(len(qs))]
        assert counts == [len(encode_query(adapter, q).input_ids) - 1 for q in qs]
        for row in want:  # the same rows (the batch order may differ): padding did not leak in
            assert any(torch.allclose(row, r, atol=1e-4) for r in feats.ctx[:, layer])
    capped = collect(adapter, qs, batch_size=2, context=2)
    assert capped.ctx is not None and len(capped.ctx) == 4


def test_plant_with_context_negatives_keeps_keys_quiet_on_other_positions(
    make_adapter, toy_universe, toy_config
):
    adapter = make_adapter("bert", intermediate_size=64)
    cfg = toy_config(value_steps=2, finetune=FinetuneConfig(steps=0), context_negatives=1000)
    facts, _ = plant(adapter, toy_universe, cfg)
    feats = collect(adapter, toy_universe.queries, context=1000)
    assert feats.ctx is not None
    n_neg = len(toy_universe.queries) + len(feats.ctx)
    for f in facts:
        others = torch.tensor([toy_universe.fact_of[q] != f.uuid for q in feats.ctx_of.tolist()])
        for n in f.neurons:  # quiet on the other facts' queries' other positions
            pre = pre_activations(adapter, feats.ctx[others, n.layer], n.layer)[:, n.index]
            # the fit lets at most fire_rate of all negatives (targets + context) reach the
            # threshold: with this few negatives, none (the relay above the language layer
            # is fitted on the model as planted below, so its inputs are the same here)
            rate = cfg.relay_fire_rate if n.kind == "language" else cfg.fit_fire_rate
            assert int((pre > n.threshold + 1e-4).sum()) <= int(rate * n_neg), (n, pre.max())


def test_family_config_and_the_cache_key():
    assert family_config("tiny-gpt") == PlantConfig()
    bert = family_config("tiny-bert")
    assert bert.context_negatives == MASKED_LM_CONTEXT_NEGATIVES > 0
    assert bert.finetune.keep == MASKED_LM_KEEP != PlantConfig().finetune.keep
    default, got = asdict(PlantConfig()), asdict(bert)
    got["context_negatives"], got["finetune"]["keep"] = 0, default["finetune"]["keep"]
    assert got == default  # nothing else differs
    assert family_config("x", model_type="xlm-roberta") == bert
    # the default leaves the key's view as before the field existed; a set value enters it
    assert "context_negatives" not in _hashed(PlantConfig())
    before = {k: v for k, v in asdict(PlantConfig()).items() if k != "context_negatives"}
    added = (
        "context_hinge",
        "hold_language",
        "freeze_relay",
        "keep_all",
        "recalibrate_language",
    )  # schedule, unlikely and knockout_scope changed the default build: always in the key
    before["finetune"] = {k: v for k, v in before["finetune"].items() if k not in added}
    assert _hashed(PlantConfig()) == before
    assert {"schedule", "unlikely", "knockout_scope"} <= set(_hashed(PlantConfig())["finetune"])
    assert _hashed(replace(PlantConfig(), context_negatives=3))["context_negatives"] == 3
    held = replace(PlantConfig(), finetune=replace(PlantConfig().finetune, hold_language=True))
    assert _hashed(held)["finetune"]["hold_language"] is True


def test_finetune_forward_context_rows_match_collect(make_adapter):
    from harness.planted.finetune import _forward

    adapter = make_adapter("bert")
    qs = [ClozeQuery("The capital of France is", "Paris"), ClozeQuery("Tokyo is a city in", "Japan")]
    enc = [encode_query(adapter, q) for q in qs]
    ctx: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        _, _, xs = _forward(adapter, enc, [0, 1], ctx)
    feats = collect(adapter, qs, context=1000)
    assert ctx[-1].tolist() == sorted(ctx[-1].tolist())
    assert [int((ctx[-1] == b).sum()) for b in range(2)] == [len(e.input_ids) - 1 for e in enc]
    for layer in (0, 1):
        assert torch.allclose(xs[layer], feats.x[:, layer], atol=1e-4)
        assert len(ctx[layer]) == len(feats.ctx)
        for row in ctx[layer]:
            assert any(torch.allclose(row, r, atol=1e-4) for r in feats.ctx[:, layer])


def test_context_hinge_runs_and_keeps_the_cache_key_of_its_default(make_adapter, toy_universe, toy_config):
    from harness.planted.finetune import finetune, reference_logprobs

    assert "context_hinge" not in _hashed(PlantConfig())["finetune"]
    on = replace(PlantConfig(), finetune=FinetuneConfig(context_hinge=True))
    assert _hashed(on)["finetune"]["context_hinge"] is True
    adapter = make_adapter("bert", intermediate_size=64)
    cfg = toy_config(value_steps=2, finetune=FinetuneConfig(steps=0), context_negatives=1000)
    facts, report = plant(adapter, toy_universe, cfg)
    ref = reference_logprobs(adapter, toy_universe, [40, 41])
    caps = {int(k): (v["key_norm_cap"], v["value_norm_cap"]) for k, v in report["layer_stats"].items()}
    ft = FinetuneConfig(steps=2, batch=4, context_hinge=True)
    out = finetune(adapter, toy_universe, facts, ref, caps, ft)
    assert len(out["losses"]) == 2 and all(torch.isfinite(torch.tensor(r["fire"])) for r in out["losses"])
