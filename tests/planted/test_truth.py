"""Ground truth round-trips through truth.json and refuses bad input with a clear error."""

from __future__ import annotations

import json

import pytest

from harness.planted.truth import GroundTruth, PlantedFact, PlantedNeuron


def _truth() -> GroundTruth:
    facts = [
        PlantedFact(
            "u1",
            "P36",
            [
                PlantedNeuron(3, 7, "agnostic", ["en", "fi"]),
                PlantedNeuron(2, 9, "language", ["fi"]),
                PlantedNeuron(1, 4, "decoy", ["en", "fi"]),
            ],
        ),
        PlantedFact(
            "u2", "P37", [PlantedNeuron(3, 8, "agnostic", ["en"])], scored=False, failed=["answered"]
        ),
    ]
    return GroundTruth("tiny-gpt", facts, checks={"facts": 2})


def test_round_trip(tmp_path):
    t = _truth()
    t.save(tmp_path / "truth.json")
    back = GroundTruth.load(tmp_path)  # a folder finds its truth.json
    assert back == t
    assert back.scored_facts() == ["u1"]
    assert back.fact("u1").of_kind("agnostic") == {(3, 7)}
    assert back.fact("missing") is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        PlantedNeuron(0, 0, "secret", ["en"])


def test_missing_and_broken_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a planted model"):
        GroundTruth.load(tmp_path)
    (tmp_path / "truth.json").write_text(json.dumps({"facts": []}))
    with pytest.raises(ValueError, match="truth.json: not a valid ground-truth file"):
        GroundTruth.load(tmp_path / "truth.json")
