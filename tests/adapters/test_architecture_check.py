"""A model whose architecture has no adapter is refused before anything is loaded, and
`rml-eval list` does not offer it as runnable."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import harness.models
from harness import registry
from harness.adapters import UnsupportedModelError
from harness.cli import main as cli
from harness.evaluate import EvalConfig, check_config
from harness.models import ModelSpec


def _no_load(*_a, **_k):
    raise AssertionError("the model must not be loaded")


def test_local_folder_without_adapter_is_refused_before_loading(monkeypatch, tmp_path):
    monkeypatch.setattr(harness.models, "load_model", _no_load)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt_neo"}))  # no weights at all
    cfg = EvalConfig(model=str(tmp_path), localizers=["matrice"], languages=["en"])
    with pytest.raises(UnsupportedModelError, match=r"model_type 'gpt_neo'.*supported: .*bloom.*gpt2.*xglm"):
        check_config(cfg)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xglm"}))
    assert check_config(cfg)[0] == "matrice"  # served: passes (and still loads nothing)


def test_registered_model_without_adapter_is_refused_and_marked_in_list(monkeypatch):
    spec = ModelSpec("no-adapter-lm", "org/none", kind="causal", architecture="rwkv", description="x")
    monkeypatch.setitem(
        registry._REGISTRY.entries["model"], spec.name, registry.Entry("model", spec.name, spec, "x", "test")
    )
    with pytest.raises(UnsupportedModelError, match="model 'no-adapter-lm'.*'rwkv'"):
        check_config(EvalConfig(model=spec.name, localizers=["matrice"], languages=["en"]))
    out = CliRunner().invoke(cli, ["list"]).output
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert "cannot run: no adapter" in lines["no-adapter-lm"]
    for name in ("mgpt", "bloom-560m", "xglm-564m", "mbert", "llama3"):
        assert "cannot run" not in lines[name]
