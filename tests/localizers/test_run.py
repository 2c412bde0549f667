"""run_localizers isolates failures; the data types; building localizers from options."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
import torch
from localizer_synth import SHAPE, scores_with, synthetic

from harness.localizers import (
    Fact,
    LocalizerError,
    Matrice,
    NeuronSet,
    build_localizer,
    fact_from_rows,
    run_localizers,
)
from harness.registry import RegistryError


def good_fact():
    m = scores_with(n0_1=1.0, n1_2=0.5)
    return synthetic({"en": [m, m], "zh": [m]})


class Returns:
    def __init__(self, value):
        self.value = value

    def localize(self, fact, provider):
        return self.value


class Raises:
    def localize(self, fact, provider):
        raise RuntimeError("boom")


def ns(neurons, scores=None, meta=None):
    neurons = torch.as_tensor(neurons)
    if scores is None:
        scores = torch.zeros(len(neurons))
    return NeuronSet(neurons, torch.as_tensor(scores), meta or {})


MALFORMED = {
    "not-a-neuron-set": ([(0, 1)], "expected a NeuronSet"),
    "layer-out-of-range": (ns([[2, 1]]), "layer out of range"),
    "index-out-of-range": (ns([[0, 8]]), "neuron index out of range"),
    "negative-index": (ns([[0, -1]]), "neuron index out of range"),
    "nan-score": (ns([[0, 1]], [float("nan")]), "NaN or inf"),
    "duplicate": (ns([[0, 1], [0, 1]]), "more than once"),
    "bad-shape": (ns([[0, 1, 2]]), r"shape \[K, 2\]"),
    "score-count": (ns([[0, 1]], [1.0, 2.0]), "scores must have shape"),
    "float-neurons": (ns(torch.tensor([[0.0, 1.0]])), "integer"),
    "meta-not-json": (ns([[0, 1]], meta={"x": object()}), "JSON"),
}


def test_failures_are_isolated_and_named():
    fact, provider = good_fact()
    localizers = {"matrice": Matrice(), "raises": Raises()}
    localizers.update({name: Returns(value) for name, (value, _) in MALFORMED.items()})
    results = run_localizers(fact, provider, localizers)
    assert isinstance(results["matrice"], NeuronSet) and len(results["matrice"]) > 0
    err = results["raises"]
    assert isinstance(err, LocalizerError) and err.localizer == "raises"
    assert "RuntimeError: boom" in str(err) and "fact f" in str(err) and "Traceback" in err.details
    for name, (_, reason) in MALFORMED.items():
        err = results[name]
        assert isinstance(err, LocalizerError), name
        assert err.localizer == name and "malformed output" in err.reason
        assert re.search(reason, err.reason), (name, err.reason)
    json.dumps({k: v.to_dict() for k, v in results.items()})


def test_empty_neuron_set_is_valid():
    fact, provider = good_fact()
    out = run_localizers(fact, provider, {"empty": Returns(NeuronSet.empty({"why": "none"}))})
    assert isinstance(out["empty"], NeuronSet) and len(out["empty"]) == 0


def test_neuron_set_round_trip_and_order():
    scores = torch.zeros(SHAPE)
    scores[1, 2], scores[0, 5], scores[0, 1] = 0.5, 0.9, 0.5
    mask = scores > 0
    got = NeuronSet.from_mask(mask, scores, {"k": 1})
    assert got.as_tuples() == [(0, 5), (0, 1), (1, 2)]  # by score, ties by position
    back = NeuronSet.from_dict(json.loads(json.dumps(got.to_dict())))
    assert torch.equal(back.neurons, got.neurons) and torch.equal(back.scores, got.scores)
    assert back.meta == {"k": 1} and torch.equal(got.mask(SHAPE), mask)
    assert len(NeuronSet.from_dict(NeuronSet.empty().to_dict())) == 0


def test_fact_from_rows():
    rows = [
        {"uuid": "u1", "relation": "P36", "language": "en", "object": "Paris",
         "templates": ["The capital of [X] is [Y] .", "[X]'s capital is [Y]"],
         "queries": ["The capital of France is", "France's capital is"]},
        {"uuid": "u1", "relation": "P36", "language": "zh", "object": "巴黎",
         "templates": ["[X]的首都是[Y]。"], "queries": ["法国的首都是"]},
    ]  # fmt: skip
    fact = fact_from_rows(rows)
    assert fact.languages == ("en", "zh") and fact.relation == "P36"
    en0 = fact.queries["en"][0]
    assert (en0.prefix, en0.answer, en0.suffix, en0.space) == (
        "The capital of France is",
        "Paris",
        " .",
        True,
    )
    assert fact.queries["zh"][0].space is False and fact.queries["zh"][0].suffix == "。"
    assert en0.alternatives == ()  # rows without `objects` (datasets before v2)
    several = fact_from_rows([{**rows[0], "objects": ["Paris", "Versailles"]}])
    assert several.queries["en"][1].alternatives == ("Versailles",)
    with pytest.raises(ValueError, match="different facts"):
        fact_from_rows([rows[0], {**rows[1], "uuid": "u2"}])


def test_fact_select():
    fact = Fact("u", "P1", {"en": (), "zh": ()})
    assert fact.languages == ()
    with pytest.raises(ValueError, match="no queries in any language"):
        fact.select(None)


def test_build_localizer_coerces_cli_strings():
    loc = build_localizer(
        "matrice", {"alpha1": "0.5", "languages": "en,zh", "steps": "none", "positive_only": "no"}
    )
    assert loc == Matrice(alpha1=0.5, languages=("en", "zh"), steps=None, positive_only=False)
    assert build_localizer("kn", {"steps": "8", "language": "fr"}).steps == 8
    assert build_localizer("random", {"count": "3"}).count == 3


def test_build_localizer_errors():
    with pytest.raises(ValueError, match="unknown option.*alpha3.*valid options: alpha1"):
        build_localizer("matrice", {"alpha3": "1"})
    with pytest.raises(ValueError, match="matrice.tau.*expected float"):
        build_localizer("matrice", {"tau": "high"})
    with pytest.raises(ValueError, match="expected a boolean"):
        build_localizer("matrice", {"positive_only": "maybe"})
    with pytest.raises(RegistryError, match="unknown localizer 'nope'.*matrice"):
        build_localizer("nope")


def test_build_localizer_rejects_objects_without_localize(monkeypatch):
    from harness import registry

    @dataclass(frozen=True)
    class NotALocalizer:
        x: int = 1

    monkeypatch.setitem(registry._REGISTRY.entries["localizer"], "not-a-localizer",
                        registry.Entry("localizer", "not-a-localizer", NotALocalizer))  # fmt: skip
    with pytest.raises(TypeError, match="no localize"):
        build_localizer("not-a-localizer")
