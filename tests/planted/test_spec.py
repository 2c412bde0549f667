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


def test_the_relay_stage_is_keyed_without_the_fine_tuning_settings(monkeypatch, tmp_path):
    from dataclasses import replace

    from harness.planted import model
    from harness.planted.finetune import FinetuneConfig
    from harness.planted.plant import PlantConfig

    monkeypatch.setattr(model, "_base_identity", lambda base: (f"id-of-{base}", None))
    monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path))
    cfg = PlantConfig()
    other_tuning = replace(cfg, finetune=FinetuneConfig(steps=7, pull=0.5))
    ds = tmp_path / "dataset"
    ds.mkdir()
    (ds / "manifest.json").write_text('{"content_hash": "sha256:abc"}')
    stage = model.relay_stage_file("tiny-gpt", cfg, ds)
    assert stage == model.relay_stage_file("tiny-gpt", other_tuning, ds)  # resumable across tuning
    assert stage != model.relay_stage_file("tiny-gpt", replace(cfg, relays=3), ds)
    assert stage != model.relay_stage_file("tiny-bert", cfg, ds)
    # the final build's folder does depend on the fine-tuning settings
    assert model.planted_model_dir("tiny-gpt", cfg, None, ds) != model.planted_model_dir(
        "tiny-gpt", other_tuning, None, ds
    )


def test_a_planted_models_folder_scores_its_planted_facts(tmp_path):
    """A local folder with a truth.json (e.g. another seed's build) runs on its scored
    planted facts, like planted:BASE; a plain folder has no default facts."""
    from harness.planted.truth import GroundTruth, PlantedFact, PlantedNeuron

    n = PlantedNeuron(0, 1, "agnostic", ["en"])
    facts = [PlantedFact("f1", "P1", [n]), PlantedFact("f2", "P1", [n], scored=False, failed=["answered"])]
    GroundTruth("toy", facts).save(tmp_path / "truth.json")
    spec = resolve_spec(str(tmp_path))
    assert spec.hf_id == str(tmp_path.resolve()) and spec.facts is not None
    assert spec.facts() == ["f1"]
    GroundTruth("toy", facts[1:]).save(tmp_path / "truth.json")
    with pytest.raises(ValueError, match=r"no planted fact passed the checks; see .*truth\.json"):
        spec.facts()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert resolve_spec(str(plain)).facts is None
