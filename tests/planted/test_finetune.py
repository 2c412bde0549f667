"""The fine-tuning stage of planting: caps kept, loss lowered, biases recalibrated exactly."""

from __future__ import annotations

import math

import pytest
import torch

from harness.planted.features import collect, key_params
from harness.planted.finetune import FinetuneConfig, hardest_negatives, recalibrate
from harness.planted.plant import PlantConfig, plant
from harness.planted.truth import PlantedFact, PlantedNeuron


def _other_rate(adapter, universe, fact: str, layer: int, index: int, threshold: float) -> float:
    feats = collect(adapter, universe.queries)
    kp = key_params(adapter, layer)
    pre = feats.x[:, layer] @ kp.key(index).detach() + kp.bias[index].detach()
    others = torch.tensor([u != fact for u in universe.fact_of])
    return float((pre[others] > threshold).float().mean())


def test_recalibrate_lowers_a_bias_just_enough(make_adapter, toy_universe):
    adapter = make_adapter("gpt2", n_inner=64)
    loud = PlantedNeuron(1, 5, "agnostic", ["en", "fi"], threshold=0.0)
    quiet = PlantedNeuron(1, 6, "agnostic", ["en", "fi"], threshold=0.0)
    with torch.no_grad():
        key_params(adapter, 1).bias[5] = 50.0  # fires on every query
        key_params(adapter, 1).bias[6] = -50.0  # fires on none
    facts = [PlantedFact("f0", "", [loud, quiet])]
    assert _other_rate(adapter, toy_universe, "f0", 1, 5, 0.0) == 1.0
    moved = recalibrate(adapter, toy_universe, facts, rate=0.1)
    assert [(m["layer"], m["index"]) for m in moved] == [(1, 5)]  # the quiet one is left alone
    assert float(key_params(adapter, 1).bias[6].detach()) == -50.0
    rate = _other_rate(adapter, toy_universe, "f0", 1, 5, 0.0)
    n_other = sum(u != "f0" for u in toy_universe.fact_of)
    assert rate <= 0.1 + 1e-6
    assert rate >= 0.1 - 2 / n_other  # lowered to the quantile, not further


def test_hardest_negatives_are_other_facts_queries(make_adapter, toy_universe):
    adapter = make_adapter("gpt2", n_inner=64)
    neuron = PlantedNeuron(0, 3, "agnostic", ["en", "fi"], threshold=-1e9)  # everything is "near"
    hard = hardest_negatives(
        adapter, toy_universe, [PlantedFact("f1", "", [neuron])], per_neuron=5, within=1.0
    )
    assert len(hard) == 5
    assert all(toy_universe.fact_of[q] != "f1" for q in hard)
    # they are the five highest pre-activations among the other facts' queries
    feats = collect(adapter, toy_universe.queries)
    kp = key_params(adapter, 0)
    pre = feats.x[:, 0] @ kp.key(3).detach() + kp.bias[3].detach()
    pre[[q for q, u in enumerate(toy_universe.fact_of) if u == "f1"]] = -float("inf")
    assert set(hard) == set(pre.topk(5).indices.tolist())


def test_finetune_lowers_the_loss_keeps_caps_and_selectivity(make_adapter, toy_universe, toy_config):
    adapter = make_adapter("gpt2", n_inner=64)
    ft = FinetuneConfig(steps=12, lr=1e-2, batch=8, mine_every=4, hard=4, recalibrate=0.05)
    cfg = toy_config(finetune=ft)
    before = {n: p.detach().clone() for n, p in adapter.model.named_parameters()}
    facts, report = plant(adapter, toy_universe, cfg, feats=collect(adapter, toy_universe.queries))
    tuned = report["finetune"]
    assert tuned["relative_weight_change"] > 0
    assert tuned["losses"][-1]["ce"] < tuned["losses"][0]["ce"]
    # fine-tuning moved weights outside the FFNs too (the relay stage alone does not)
    params = dict(adapter.model.named_parameters())
    assert any(not torch.equal(params[n], before[n]) for n in before if ".mlp." not in n)
    for f in facts:
        for n in f.neurons:
            st = report["layer_stats"][str(n.layer)]
            if n.kind == "agnostic":  # projected back within the caps after every step
                assert float(key_params(adapter, n.layer).key(n.index).norm()) <= st["key_norm_cap"] + 1e-4
                value = adapter.neuron_output_weights(n.layer)[n.index]
                assert float(value.norm()) <= st["value_norm_cap"] + 1e-4
            # recalibrated: at most 5 % of the other facts' queries reach the threshold
            assert _other_rate(adapter, toy_universe, f.uuid, n.layer, n.index, n.threshold) <= 0.05 + 1e-6
    assert all(p.grad is None for p in adapter.model.parameters())


def test_language_rows_are_held_at_their_relay_stage_norms(make_adapter, toy_universe, toy_config):
    from harness.planted.plant import base_reference, finetune_stage, plant_relay

    adapter = make_adapter("gpt2", n_inner=64)
    ft = FinetuneConfig(steps=6, lr=5e-2, batch=8, mine_every=3, hard=4, recalibrate=0.05, hold_language=True)
    cfg = toy_config(value_steps=2, norm_scale=PlantConfig().norm_scale, finetune=ft)
    reference = base_reference(adapter, toy_universe, cfg)
    facts, report = plant_relay(adapter, toy_universe, cfg, reference)
    language = [n for f in facts for n in f.neurons if n.kind == "language"]
    assert language

    def norms() -> list[tuple[float, float]]:
        return [
            (
                float(key_params(adapter, n.layer).key(n.index).norm()),
                float(adapter.neuron_output_weights(n.layer)[n.index].norm()),
            )
            for n in language
        ]

    held = norms()
    tuned = finetune_stage(adapter, toy_universe, facts, reference, report, cfg)
    assert tuned["relative_weight_change"] > 0
    for (k, v), (k0, v0) in zip(norms(), held, strict=True):
        assert k <= k0 + 1e-4 and v <= v0 + 1e-4


def test_freeze_relay_keeps_the_language_neurons_exactly(make_adapter, toy_universe, toy_config):
    from harness.planted.finetune import relay_inputs
    from harness.planted.plant import base_reference, finetune_stage, plant_relay

    adapter = make_adapter("gpt2", n_inner=64)
    ft = FinetuneConfig(steps=6, lr=5e-2, batch=8, mine_every=3, hard=4, recalibrate=0.05, freeze_relay=True)
    cfg = toy_config(value_steps=2, finetune=ft)  # relays in layer 0, the rest in layer 1
    reference = base_reference(adapter, toy_universe, cfg)
    facts, report = plant_relay(adapter, toy_universe, cfg, reference)
    names = {id(p): n for n, p in adapter.model.named_parameters()}
    frozen = {names[i] for i in relay_inputs(adapter, toy_universe, facts)}
    # what layer 0's language neurons read: the embeddings and layer 0 up to its keys
    assert {
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.0.attn.c_attn.weight",
    } <= frozen
    assert {"transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias"} <= frozen
    assert "transformer.h.0.mlp.c_proj.weight" not in frozen  # the values write upward
    assert not any(n.startswith(("transformer.h.1.", "transformer.ln_f")) for n in frozen)
    before = {n: p.detach().clone() for n, p in adapter.model.named_parameters()}
    x0 = collect(adapter, toy_universe.queries).x[:, 0]
    tuned = finetune_stage(adapter, toy_universe, facts, reference, report, cfg)
    assert tuned["relative_weight_change"] > 0
    params = dict(adapter.model.named_parameters())
    assert all(torch.equal(params[n], before[n]) for n in frozen)
    assert not torch.equal(
        params["transformer.h.1.mlp.c_fc.weight"], before["transformer.h.1.mlp.c_fc.weight"]
    )
    assert torch.equal(collect(adapter, toy_universe.queries).x[:, 0], x0)  # the relay reads the same
    assert all(p.requires_grad for p in adapter.model.parameters())  # restored


def test_cosine_schedule_is_used_and_a_bad_one_is_refused(make_adapter, toy_universe, toy_config):
    from harness.planted.plant import base_reference, finetune_stage, plant_relay

    moved = {}
    for schedule in ("constant", "cosine", "linear"):
        adapter = make_adapter("gpt2", n_inner=64)
        cfg = toy_config(value_steps=2, finetune=FinetuneConfig(steps=3, lr=5e-2, batch=8, schedule=schedule))
        reference = base_reference(adapter, toy_universe, cfg)
        facts, report = plant_relay(adapter, toy_universe, cfg, reference)
        if schedule == "linear":
            with pytest.raises(ValueError, match="schedule must be 'constant' or 'cosine', got 'linear'"):
                finetune_stage(adapter, toy_universe, facts, reference, report, cfg)
            assert all(p.requires_grad for p in adapter.model.parameters())  # refused before any change
        else:
            moved[schedule] = finetune_stage(adapter, toy_universe, facts, reference, report, cfg)
    # the same start and batches: the decayed rate moves the weights less
    assert moved["cosine"]["relative_weight_change"] < moved["constant"]["relative_weight_change"]


def test_unlikelihood_is_the_weighted_mean_of_minus_log_one_minus_p():
    from harness.planted.finetune import _unlikelihood

    probs = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    ans, w = torch.tensor([0, 2]), torch.tensor([1.0, 3.0])
    expected = (1.0 * -math.log(1 - 0.5) + 3.0 * -math.log(1 - 0.8)) / 4.0
    assert abs(float(_unlikelihood(probs.log(), ans, w)) - expected) < 1e-6
    # a certain answer stays finite (clamped), and grows the penalty
    sure = torch.tensor([[1.0, 0.0, 0.0]]).clamp(min=1e-12).log()
    big = float(_unlikelihood(sure, torch.tensor([0]), torch.tensor([1.0])))
    assert math.isfinite(big) and big > 10


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_knockout_zeroes_each_rows_own_facts_neurons_only(make_adapter, toy_universe, family):
    """The batched per-row knockout gives, row by row, what the ablation check does: that
    row's fact's neurons zeroed at the target, the other facts' neurons left alone."""
    from harness.attribution.query import encode_query
    from harness.localizers.base import NeuronSet
    from harness.planted.finetune import Knockout, _forward
    from harness.tasks.base import manipulated

    adapter = make_adapter(family)
    own = {
        "f0": [PlantedNeuron(0, 3, "agnostic", ["en"]), PlantedNeuron(1, 7, "language", ["fi"])],
        "f1": [PlantedNeuron(1, 9, "agnostic", ["en"]), PlantedNeuron(1, 11, "decoy", ["en"])],
    }
    with torch.no_grad():  # make the planted neurons matter, so that zeroing them shows
        for ns in own.values():
            for n in ns:
                key_params(adapter, n.layer).bias[n.index] = 5.0
                adapter.neuron_output_weights(n.layer)[n.index] *= 50
    neurons = [(u, n) for u, ns in own.items() for n in ns]
    code = {"f0": 0, "f1": 1, "f2": 2}
    qs = [q for q, u in enumerate(toy_universe.fact_of) if u in code][::2]
    enc = [encode_query(adapter, toy_universe.queries[q]) for q in qs]
    codes = torch.tensor([code[toy_universe.fact_of[q]] for q in qs])
    with torch.no_grad():
        plain, _, _ = _forward(adapter, enc)
        for scope in ("fact", "all"):
            with adapter.intervene(Knockout(neurons, code, scope).spec(codes), positions="target"):
                got, _, _ = _forward(adapter, enc)
            for row, q in enumerate(qs):
                u = toy_universe.fact_of[q]
                zeroed = [n for v, n in neurons if scope == "all" or v == u]
                pairs = torch.tensor([(n.layer, n.index) for n in zeroed]).reshape(-1, 2)
                with manipulated(adapter, NeuronSet(pairs, torch.zeros(len(pairs))), "set", 0.0):
                    want, _, _ = _forward(adapter, [enc[row]])
                assert torch.allclose(got[row], want[0], atol=1e-5), (scope, u)
        # and the knockout did something on the planted facts' rows
        f0 = [r for r, q in enumerate(qs) if toy_universe.fact_of[q] == "f0"]
        assert not torch.allclose(got[f0], plain[f0], atol=1e-3)


def test_bad_knockout_scope_is_refused(make_adapter, toy_universe, toy_config):
    from harness.planted.plant import base_reference, finetune_stage, plant_relay

    adapter = make_adapter("gpt2", n_inner=64)
    cfg = toy_config(value_steps=2, finetune=FinetuneConfig(steps=2, batch=8, knockout_scope="mine"))
    reference = base_reference(adapter, toy_universe, cfg)
    facts, report = plant_relay(adapter, toy_universe, cfg, reference)
    with pytest.raises(ValueError, match=r"knockout_scope must be one of \('fact', 'all'\), got 'mine'"):
        finetune_stage(adapter, toy_universe, facts, reference, report, cfg)
