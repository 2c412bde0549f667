"""The embedded tiny models: trained on a synthetic RML-LAMA, they know their known facts,
are cached (and reused), reproducible, and load through load_model like any model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import rml_lama
from harness.models import (
    CONFIGS,
    load_model,
    load_report,
    load_splits,
    tiny,
    tiny_model_dir,
    train_tiny,
)
from harness.models.cli import models as models_cli
from harness.models.facts import clozes, read_rows
from harness.models.training import encode

# One epoch of a very small model: enough to test the mechanics, not the learning.
MICRO = CONFIGS["micro"]["tiny-gpt"]
QUICK = dataclasses.replace(
    MICRO, name="quick", optim=dataclasses.replace(MICRO.optim, epochs=1), n_layer=1, d_model=32
)


@pytest.fixture(scope="module")
def micro_gpt(env: Path) -> Path:
    return train_tiny("tiny-gpt", "micro", progress=False)


def _mean(acc: dict[str, float], langs: tuple[str, ...]) -> float:
    return sum(acc[lang] for lang in langs) / len(langs)


def test_micro_gpt_knows_its_facts(micro_gpt: Path) -> None:
    for f in ("config.json", "model.safetensors", "tokenizer.json", "splits.json", "report.json"):
        assert (micro_gpt / f).is_file()
    report = load_report(micro_gpt)
    acc = report["accuracy"]
    assert min(acc["known"].values()) >= 0.75, acc
    assert _mean(acc["known"], rml_lama.LANGUAGE_CODES) >= 0.9, acc
    assert _mean(acc["high_resource_only"], ("en", "zh", "fr")) >= 0.85, acc
    assert _mean(acc["high_resource_only"], ("ja", "ko")) <= 0.5, acc  # never trained there
    assert report["config"]["name"] == "micro" and report["seconds"]["total"] > 0
    splits = load_splits(micro_gpt)
    assert len(splits.known) == MICRO.splits.known


def test_load_model_reuses_the_cache_and_answers(micro_gpt: Path, env: Path) -> None:
    builds = tiny.COUNTERS.builds
    lm = load_model("tiny-gpt-micro")
    assert tiny.COUNTERS.builds == builds  # loaded, not trained again
    assert lm.spec.hf_id == str(micro_gpt) and lm.spec.kind == "causal"
    assert type(lm.model).__name__ == "GPT2LMHeadModel" and not lm.model.training
    assert train_tiny("tiny-gpt", "micro", progress=False) == micro_gpt
    assert load_splits("tiny-gpt-micro") == load_splits(lm) == load_splits("tiny-gpt", "micro")
    assert tiny.COUNTERS.builds == builds
    with pytest.raises(ValueError, match="not a tiny model"):
        load_splits("mgpt")
    # Ask the known facts in en and ja with plain transformers calls.
    known = set(load_splits(micro_gpt).known)
    rows = read_rows(env, ("en", "ja"))
    items = [
        encode(lm.tokenizer, c, masked=False)
        for lang in rows
        for r in rows[lang]
        if r["uuid"] in known
        for c in clozes(r)
    ]
    right = 0
    with torch.no_grad():
        for e in items:
            prompt = torch.tensor([e.input_ids[: e.answer_pos + 1]])
            assert prompt[0, 0].item() == lm.tokenizer.bos_token_id
            right += int(lm.model(prompt).logits[0, -1].argmax().item() == e.answer_id)
    assert right / len(items) >= 0.85


def test_micro_bert_knows_its_facts(env: Path) -> None:
    lm = load_model("tiny-bert-micro")  # trained on first use
    assert lm.spec.kind == "masked" and type(lm.model).__name__ == "BertForMaskedLM"
    acc = load_report(Path(lm.spec.hf_id))["accuracy"]
    assert _mean(acc["known"], rml_lama.LANGUAGE_CODES) >= 0.85, acc
    enc = lm.tokenizer("x <mask>.")["input_ids"]
    assert enc[0] == lm.tokenizer.bos_token_id and enc[-1] == lm.tokenizer.eos_token_id


def test_reproducible_and_forced(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = []
    for run in ("a", "b"):
        monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path / run))
        folders.append(train_tiny("tiny-gpt", QUICK, progress=False))
    a, b = (load_file(f / "model.safetensors") for f in folders)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for f in ("tokenizer.json", "splits.json"):
        assert (folders[0] / f).read_text() == (folders[1] / f).read_text()
    builds = tiny.COUNTERS.builds
    assert train_tiny("tiny-gpt", QUICK, force=True, progress=False) == folders[1]
    assert tiny.COUNTERS.builds == builds + 1
    assert not [p for p in folders[1].parent.iterdir() if p.name.startswith(".tmp")]


def test_cache_key(env: Path, tmp_path: Path) -> None:
    demo, micro = tiny_model_dir("tiny-gpt", "demo"), tiny_model_dir("tiny-gpt", "micro")
    assert demo != micro and demo.name.startswith("tiny-gpt-demo-")
    assert tiny_model_dir("tiny-bert", "micro") != micro
    copy = tmp_path / "data"
    copy.mkdir()
    (copy / "data").symlink_to(env / "data")
    assert tiny_model_dir("tiny-gpt", "micro", copy) == micro  # same parquet content
    (copy / "manifest.json").write_text(json.dumps({"content_hash": "abc"}))
    assert tiny_model_dir("tiny-gpt", "micro", copy) != micro  # the builder's hash wins


def test_failed_build_leaves_nothing(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path))

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("interrupted")

    monkeypatch.setattr(tiny.Splits, "save", boom)  # fails inside the folder being written
    with pytest.raises(RuntimeError):
        train_tiny("tiny-gpt", QUICK, progress=False)
    assert not tiny_model_dir("tiny-gpt", QUICK).exists()
    assert not list((tmp_path / "models").iterdir())


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="tiny-gpt, tiny-bert"):
        train_tiny("tiny-t5")
    with pytest.raises(ValueError, match="micro, demo"):
        train_tiny("tiny-gpt", "huge")


def test_cli(micro_gpt: Path, env: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(models_cli, ["list"])
    assert out.exit_code == 0 and "ai-forever/mGPT" in out.output and "tiny-bert" in out.output
    out = runner.invoke(models_cli, ["train", "tiny-gpt", "--config", "micro", "--dataset", str(env)])
    assert out.exit_code == 0, out.output
    assert str(micro_gpt) in out.output and "high_resource_only" in out.output
    out = runner.invoke(models_cli, ["path", "tiny-bert", "--config", "demo"])
    assert out.exit_code == 0 and "tiny-bert-demo-" in out.output
    out = runner.invoke(models_cli, ["train", "tiny-gpt", "--dataset", str(env / "nowhere")])
    assert out.exit_code != 0 and "rml-build" in out.output
