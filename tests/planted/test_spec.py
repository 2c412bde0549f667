"""planted:BASE as a model name: resolution, listing and clear errors (nothing is built)."""

from __future__ import annotations

import pytest

from harness import registry
from harness.models.specs import model_specs, resolve_spec


def test_planted_name_resolves_to_a_buildable_spec():
    spec = resolve_spec("planted:tiny-gpt-micro")
    assert spec.name == "planted:tiny-gpt-micro"
    assert spec.kind == "causal" and spec.architecture == "gpt2"
    assert callable(spec.build) and callable(spec.facts)
    assert resolve_spec("planted:tiny-bert").kind == "masked"


def test_planted_models_are_listed():
    names = {s.name for s in model_specs()}
    assert {"planted:tiny-gpt", "planted:tiny-bert"} <= names


def test_bad_planted_names_say_why():
    with pytest.raises(ValueError, match="needs a base model"):
        resolve_spec("planted:")
    with pytest.raises(ValueError, match="planted model is not supported"):
        resolve_spec("planted:planted:tiny-gpt")
    with pytest.raises(registry.RegistryError, match="valid choices"):
        resolve_spec("planted:no-such-model")
