"""The model registry: short names, hf: ids, local folders, unknown names, plugins."""

from __future__ import annotations

import pytest

from harness import registry
from harness.models import ModelSpec, model_specs, resolve_spec
from harness.models.specs import HUB_SPECS

PAPER_MODELS = {
    "mgpt": ("ai-forever/mGPT", "causal", "gpt2"),
    "llama2": ("meta-llama/Llama-2-7b-hf", "causal", "llama"),
    "llama3": ("meta-llama/Meta-Llama-3-8B", "causal", "llama"),
    "mbert": ("google-bert/bert-base-multilingual-cased", "masked", "bert"),
}


@pytest.mark.parametrize("name", sorted(PAPER_MODELS))
def test_paper_models_resolve(name: str) -> None:
    spec = resolve_spec(name)
    assert (spec.hf_id, spec.kind, spec.architecture) == PAPER_MODELS[name]


def test_every_builtin_is_registered_with_a_description() -> None:
    names = registry.names("model")
    for expected in [*HUB_SPECS, "tiny-gpt", "tiny-bert", "tiny-gpt-micro", "tiny-bert-micro"]:
        assert expected in names
    for spec in model_specs():
        assert spec.description and "\n" not in spec.description
        assert spec.kind in ("causal", "masked")
        assert spec.dtype in ("float32", "bfloat16")
    assert resolve_spec("llama3").gated and not resolve_spec("mgpt").gated
    assert resolve_spec("xlm-r-large").kind == "masked"
    assert resolve_spec("tiny-bert").kind == "masked" and resolve_spec("tiny-gpt").build is not None


def test_hf_prefix_and_local_folder(tmp_path) -> None:  # noqa: ANN001
    spec = resolve_spec("hf:facebook/xglm-564M")
    assert spec.hf_id == "facebook/xglm-564M" and spec.kind == "auto"
    local = resolve_spec(str(tmp_path))
    assert local.hf_id == str(tmp_path.resolve()) and local.kind == "auto"


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(registry.RegistryError) as e:
        resolve_spec("gpt-17")
    msg = str(e.value)
    assert "gpt-17" in msg and "mgpt" in msg and "tiny-gpt" in msg and "hf:ORG/NAME" in msg
    with pytest.raises(registry.RegistryError, match="hf:facebook/opt-125m"):
        resolve_spec("facebook/opt-125m")  # a hub id without the prefix
    with pytest.raises(registry.RegistryError, match="hub id"):
        resolve_spec("hf:")


def test_plugin_spec_and_factory() -> None:
    spec = ModelSpec("my-plugin-model", "org/my-model", kind="masked", description="a plugin model")
    registry.add("model", "my-plugin-model", spec, origin="test")
    registry.add("model", "my-plugin-factory", lambda: spec, origin="test")
    assert resolve_spec("my-plugin-model") is spec
    assert resolve_spec("my-plugin-factory") is spec
    registry.add("model", "my-broken-plugin", 42, origin="test")
    with pytest.raises(registry.RegistryError, match="not a ModelSpec"):
        resolve_spec("my-broken-plugin")
    with pytest.raises(ValueError, match="kind"):
        ModelSpec("x", "y", kind="seq2seq")
