"""The per-fact checks: a neuron that does not fire on its fact is silent, or fails it."""

from __future__ import annotations

import torch

import harness.planted.checks as checks_module
from harness.planted.checks import format_checks, run_checks
from harness.planted.features import collect, key_params
from harness.planted.truth import GroundTruth, PlantedFact, PlantedNeuron


def test_silent_language_neurons_and_decoys_leave_the_truth(make_adapter, toy_universe, monkeypatch):
    adapter = make_adapter("gpt2", n_inner=64)
    with torch.no_grad():
        for layer, index, bias in ((1, 5, 50.0), (0, 3, -50.0), (1, 6, -50.0), (1, 7, -50.0)):
            key_params(adapter, layer).bias[index] = bias  # fires on every query, or on none
    loud = PlantedNeuron(1, 5, "agnostic", ["en", "fi"])
    mute_language = PlantedNeuron(0, 3, "language", ["en"])
    mute_decoy = PlantedNeuron(1, 6, "decoy", ["en", "fi"])
    mute_agnostic = PlantedNeuron(1, 7, "agnostic", ["en", "fi"])
    facts = [
        PlantedFact("f0", "", [loud, mute_language, mute_decoy]),
        PlantedFact("f1", "", [mute_agnostic]),
    ]
    ablated: dict[str, list] = {}
    real = checks_module.ablated_correct

    def spy(adapter, queries, neurons):
        ablated[queries[0].prefix] = neurons
        return real(adapter, queries, neurons)

    monkeypatch.setattr(checks_module, "ablated_correct", spy)
    feats = collect(adapter, toy_universe.queries)
    figures = run_checks(adapter, toy_universe, facts, feats, after=feats)
    assert mute_language.silent and mute_decoy.silent and not loud.silent
    assert not mute_agnostic.silent  # an agnostic neuron is never silenced: its fact fails
    assert "agnostic_fires" not in facts[0].failed and "agnostic_fires" in facts[1].failed
    assert figures["silent"] == {"language": 1, "decoy": 1}
    assert facts[0].of_kind("language") == set() and facts[0].of_kind("decoy") == set()
    assert facts[0].of_kind("agnostic") == {(1, 5)}
    f0_prompt = toy_universe.queries[toy_universe.fact_of.index("f0")].prefix
    assert ablated[f0_prompt] == [(1, 5)]  # the ablation zeroes only the truth
    assert "silent (not firing on their fact, not truth): language 1, decoy 1" in format_checks(figures)
    # the marking survives truth.json
    back = GroundTruth.from_json(GroundTruth("toy", facts).to_json())
    assert [n.silent for n in back.facts[0].neurons] == [False, True, True]
