"""Planting on a tiny random GPT-2: what is written where, and what is left alone."""

from __future__ import annotations

import torch

from harness.attribution.query import ClozeQuery, encode_query
from harness.planted.checks import format_checks, run_checks
from harness.planted.features import collect, key_params
from harness.planted.finetune import FinetuneConfig
from harness.planted.plant import Universe, plant, relay_directions


def test_plant_writes_only_the_chosen_neurons(make_adapter, toy_universe, toy_config):
    adapter = make_adapter("gpt2", n_inner=64)
    before = {n: p.detach().clone() for n, p in adapter.model.named_parameters()}
    universe = toy_universe
    # the relay stage alone (fine-tuning: test_finetune.py)
    cfg = toy_config(finetune=FinetuneConfig(steps=0))
    before_feats = collect(adapter, universe.queries)
    facts, report = plant(adapter, universe, cfg, feats=before_feats)
    checks = run_checks(adapter, universe, facts, before_feats)  # runs end to end on any result
    assert checks["facts"] == 2 and set(checks["known_accuracy"]) >= {"before", "after", "pass"}
    assert "planted facts: 2" in format_checks(checks)
    assert [f.uuid for f in facts] == ["f0", "f1"]
    chosen = {(n.layer, n.index) for f in facts for n in f.neurons}
    assert len(chosen) == sum(len(f.neurons) for f in facts)  # no neuron planted twice
    for f in facts:
        assert {n.kind for n in f.neurons} <= {"agnostic", "language", "decoy"}
        assert all(n.languages for n in f.neurons)
    # only the FFN weights of planted neurons changed
    for layer in range(adapter.n_layers):
        keys = key_params(adapter, layer).keys().detach()
        values = adapter.neuron_output_weights(layer).detach()
        idx = [i for (lay, i) in chosen if lay == layer]
        untouched = torch.ones(adapter.n_neurons, dtype=torch.bool)
        untouched[idx] = False
        mlp = adapter.model.transformer.h[layer].mlp
        assert torch.equal(keys[untouched], before[f"transformer.h.{layer}.mlp.c_fc.weight"].T[untouched])
        assert torch.equal(values[untouched], before[f"transformer.h.{layer}.mlp.c_proj.weight"][untouched])
        assert mlp.c_fc.weight.requires_grad  # requires_grad restored after value learning
        st = report["layer_stats"][str(layer)]
        for i in idx:  # value rows within the cap (a relay's fixed part has its own)
            assert float(values[i].norm()) <= st["value_norm_cap"] + st.get("relay_value_norm", 0.0) + 1e-5
    other = [n for n in before if ".mlp." not in n]
    params = dict(adapter.model.named_parameters())
    assert all(torch.equal(params[n], before[n]) for n in other)


def test_collect_matches_a_plain_forward(make_adapter):
    adapter = make_adapter("gpt2")
    qs = [ClozeQuery("The capital of France is", "Paris"), ClozeQuery("Tokyo is the capital of", "Japan")]
    feats = collect(adapter, qs, batch_size=1)
    both = collect(adapter, qs, batch_size=2)  # padding and the length sort do not change it
    assert torch.allclose(feats.x, both.x, atol=1e-5) and torch.allclose(feats.act, both.act, atol=1e-5)
    # the activation is act(x @ key + bias) of the same layer
    kp = key_params(adapter, 0)
    pre = feats.x[:, 0] @ kp.keys().detach().T + kp.bias.detach()
    act = adapter.model.transformer.h[0].mlp.act(pre)
    assert torch.allclose(act, feats.act[:, 0], atol=1e-5)


def test_collect_keeps_each_blocks_output(make_adapter):
    adapter = make_adapter("gpt2")
    q = ClozeQuery("The capital of France is", "Paris")
    feats = collect(adapter, [q])
    enc = encode_query(adapter, q)
    ids = torch.as_tensor(enc.input_ids).reshape(1, -1)
    with torch.no_grad():
        hidden = adapter.model(input_ids=ids, output_hidden_states=True).hidden_states
    assert feats.h is not None and feats.h.shape == (1, adapter.n_layers, adapter.d_model)
    for layer in range(adapter.n_layers - 1):  # the last entry of hidden_states has ln_f applied
        assert torch.allclose(feats.h[0, layer], hidden[layer + 1][0, enc.target_position], atol=1e-5)


def test_relay_directions_are_orthonormal_quiet_and_mean_free():
    g = torch.Generator().manual_seed(0)
    scales = torch.linspace(0.01, 5.0, 16)
    h = torch.randn(4000, 16, generator=g) * scales + 3.0  # coordinate i has std scales[i]
    u, basis = relay_directions(h, n=3, dims=5, seed=1)
    assert u.shape == (3, 16) and basis.shape == (5, 16)
    assert torch.allclose(u @ u.T, torch.eye(3), atol=1e-4)
    assert torch.allclose(u.sum(1), torch.zeros(3), atol=1e-4)  # LayerNorm's mean direction excluded
    centred = h - h.mean(0)
    assert float((centred @ u.T).std(0).max()) < 0.6 * float(centred.std(0).median())  # the quiet end
    assert torch.allclose(u @ basis.T @ basis, u, atol=1e-4)  # inside the quiet subspace


def test_keep_unknown_plants_only_facts_the_base_model_misses(toy_universe):
    from harness.planted.universe import keep_unknown

    universe = toy_universe
    universe = Universe(universe.queries, universe.fact_of, universe.lang_of, ["f0", "f1", "f2"], [])
    correct = torch.tensor([u == "f1" for u in universe.fact_of])  # f1 is answered everywhere
    kept = keep_unknown(universe, correct, n_facts=5, max_accuracy=0.2)
    assert kept.planted == ["f0", "f2"] and kept.queries is universe.queries
    assert keep_unknown(universe, correct, n_facts=1, max_accuracy=0.2).planted == ["f0"]
