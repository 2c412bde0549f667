"""planted:tiny-gpt-micro built end to end on the synthetic dataset (the mechanics, not the
learning): the folder, truth.json with the checks, and a rebuild with other fine-tuning
settings that resumes from the saved relay stage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.planted.finetune import FinetuneConfig
from harness.planted.model import build_planted, relay_stage_file
from harness.planted.plant import PlantConfig
from harness.planted.truth import GroundTruth


def _neurons(truth: GroundTruth) -> list[tuple[str, int, int, str]]:
    return [(f.uuid, n.layer, n.index, n.kind) for f in truth.facts for n in f.neurons]


def test_a_planted_build_runs_end_to_end_and_resumes_from_its_relay_stage(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = PlantConfig(
        facts=2,
        agnostic=1,
        relays=1,
        decoys=1,
        value_steps=2,
        batch_queries=8,
        preserve_queries=16,
        finetune=FinetuneConfig(steps=3, batch=8, mine_every=2, hard=2),
    )
    folder = build_planted("tiny-gpt-micro", cfg)
    assert (folder / "model.safetensors").is_file() and (folder / "splits.json").is_file()
    truth = GroundTruth.load(folder)
    assert len(truth.facts) == 2 and {"planted_accuracy", "known_accuracy"} <= set(truth.checks)
    assert truth.planting["finetune"]["config"]["steps"] == 3
    assert len(truth.planting["finetune"]["losses"]) >= 1
    stage = relay_stage_file("tiny-gpt-micro", cfg)
    assert stage.is_file()
    written = stage.stat().st_mtime_ns
    capsys.readouterr()

    other = replace(cfg, finetune=replace(cfg.finetune, steps=2))
    again = build_planted("tiny-gpt-micro", other)
    assert again != folder
    assert f"relay stage: reusing {stage}" in capsys.readouterr().err
    assert stage.stat().st_mtime_ns == written  # read, not rewritten
    resumed = GroundTruth.load(again)
    assert _neurons(resumed) == _neurons(truth)  # the relay stage's neurons, tuned differently
    assert resumed.planting["finetune"]["config"]["steps"] == 2
    assert build_planted("tiny-gpt-micro", cfg) == folder  # the finished build is cached
