"""The ground-truth task: scores by hand on a small truth, chance-level AP for random
rankings, and a clear error on a model without ground truth."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pytest
import torch

from harness.localizers.base import NeuronSet
from harness.planted.metrics import chance_ap
from harness.planted.truth import GroundTruth, PlantedFact, PlantedNeuron
from harness.tasks.base import TaskContext
from harness.tasks.ground_truth import GroundTruthTask, score_fact, summarize_scores

SHAPE = (4, 50)


def _truth() -> GroundTruth:
    neurons = [
        PlantedNeuron(3, 1, "agnostic", ["en"]),
        PlantedNeuron(2, 2, "agnostic", ["en"]),
        PlantedNeuron(1, 3, "agnostic", ["en"]),
        PlantedNeuron(3, 4, "language", ["fi"]),
        PlantedNeuron(2, 5, "decoy", ["en"]),
    ]
    return GroundTruth(
        "toy",
        [
            PlantedFact("f1", "P1", neurons),
            PlantedFact("f2", "P1", [PlantedNeuron(0, 9, "agnostic", ["en"])]),
            PlantedFact(
                "f3", "P1", [PlantedNeuron(0, 8, "agnostic", ["en"])], scored=False, failed=["answered"]
            ),
        ],
    )


def _set(pairs):
    return NeuronSet(
        torch.tensor(pairs, dtype=torch.long).reshape(-1, 2), torch.arange(len(pairs), 0, -1).float()
    )


def test_scores_by_hand():
    sel = _set([(3, 1), (3, 4), (2, 5), (0, 9), (2, 2)])  # 2 agnostic, 1 language, 1 decoy, 1 other
    (rec,) = score_fact(_truth(), "f1", SHAPE, {"loc": sel})
    assert rec["precision"] == pytest.approx(2 / 5)
    assert rec["recall"] == pytest.approx(2 / 3)
    assert rec["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    assert rec["share_decoy"] == pytest.approx(1 / 5)
    assert rec["share_language"] == pytest.approx(1 / 5)
    assert rec["share_other_planted"] == pytest.approx(1 / 5)
    # ranks 1 and 5 hold agnostic neurons; the third one lies in the random tail
    assert (1 + 2 / 5) / 3 < rec["ap"] < (1 + 2 / 5 + 3 / 6) / 3 + 1e-9
    assert rec["chance_ap"] == pytest.approx(chance_ap(200, 3))
    assert rec["base_rate"] == pytest.approx(3 / 200)


def test_perfect_selection_has_ap_one():
    (rec,) = score_fact(_truth(), "f1", SHAPE, {"loc": _set([(3, 1), (2, 2), (1, 3)])})
    assert rec["ap"] == 1.0 and rec["precision"] == 1.0 and rec["recall"] == 1.0


def test_unplanted_and_dropped_facts_get_no_record():
    assert score_fact(_truth(), "nope", SHAPE, {"loc": _set([(0, 0)])}) == []
    assert score_fact(_truth(), "f3", SHAPE, {"loc": _set([(0, 8)])}) == []


def test_random_selections_average_the_chance_level():
    rng = random.Random(0)
    aps = []
    for i in range(300):
        pairs = rng.sample([(layer, n) for layer in range(4) for n in range(50)], 5)
        truth = _truth()
        truth.facts[0].uuid = f"f{i}"  # a new tail order per fact, like different facts
        (rec,) = score_fact(truth, f"f{i}", SHAPE, {"random": _set(pairs)})
        aps.append(rec["ap"])
    assert sum(aps) / len(aps) == pytest.approx(chance_ap(200, 3), rel=0.2)


def test_summary_has_intervals_and_prints():
    recs = []
    for uuid in ("f1", "f2"):
        for r in score_fact(_truth(), uuid, SHAPE, {"a": _set([(3, 1)]), "b": NeuronSet.empty()}):
            r["fact"] = uuid
            recs.append(r)
    rows = {r["localizer"]: r for r in summarize_scores(recs)}
    assert rows["a"]["facts"] == 2 and rows["a"]["ap_ci_low"] <= rows["a"]["ap"] <= rows["a"]["ap_ci_high"]
    assert math.isnan(rows["b"]["precision"]) and rows["b"]["empty"] == 2 and rows["b"]["f1"] == 0.0
    from harness.summary import summary_text  # what rml-eval prints

    text = summary_text({"config": {"model": "planted:toy"}, "tasks": {"ground-truth": list(rows.values())}})
    assert "AP" in text and "chance AP" in text
    b_line = next(t for t in text.splitlines() if t.startswith("b "))
    assert b_line.split("(n=2)")[1].split()[0] == "–"  # b's precision (after AP): undefined, shown as such


def test_declared_output_shows_the_summary():
    from harness.summary import summary_text

    recs = []
    for uuid in ("f1", "f2"):
        for r in score_fact(_truth(), uuid, SHAPE, {"matrice": _set([(3, 1)])}):
            recs.append({**r, "fact": uuid})
    text = summary_text(
        {"config": {"model": "planted:toy"}, "tasks": {"ground-truth": summarize_scores(recs)}}
    )
    line = next(t for t in text.splitlines() if t.lower().startswith("matrice"))
    row = summarize_scores(recs)[0]
    assert (
        f"{row['ap']:.3f} [{row['ap_ci_low']:.3f}, {row['ap_ci_high']:.3f}] (n=2)" in line
    )  # inline interval


def test_precision_and_shares_count_only_facts_with_a_selection():
    """A localizer that selects on one fact of two: its precision is over n = 1, its AP
    over n = 2, and the summary table says so."""
    from harness.summary import summary_text

    recs = []
    for uuid, nset in (("f1", _set([(3, 1)])), ("f2", NeuronSet.empty())):
        for r in score_fact(_truth(), uuid, SHAPE, {"matrice": nset}):
            recs.append({**r, "fact": uuid})
    (row,) = summarize_scores(recs)
    assert (row["facts"], row["empty"], row["selected_facts"]) == (2, 1, 1)
    text = summary_text({"config": {"model": "planted:toy"}, "tasks": {"ground-truth": [row]}})
    line = next(t for t in text.splitlines() if t.lower().startswith("matrice"))
    assert "(n=1)" in line and "(n=2)" in line
    # one fact has no interval; two do
    assert f"{row['precision']:.3f} (n=1)" in line
    assert f"{row['ap']:.3f} [{row['ap_ci_low']:.3f}, {row['ap_ci_high']:.3f}] (n=2)" in line


def test_model_without_truth_is_refused(tmp_path):
    ctx = TaskContext(
        adapter=SimpleNamespace(n_layers=4, n_neurons=50),
        model=SimpleNamespace(spec=SimpleNamespace(hf_id=str(tmp_path), name="tiny-gpt")),
    )
    fact = SimpleNamespace(uuid="f1")
    with pytest.raises(ValueError, match="needs a planted model"):
        GroundTruthTask().evaluate(ctx, fact, {})


def test_task_reads_the_truth_beside_the_model(tmp_path):
    _truth().save(tmp_path / "truth.json")
    ctx = TaskContext(
        adapter=SimpleNamespace(n_layers=4, n_neurons=50),
        model=SimpleNamespace(spec=SimpleNamespace(hf_id=str(tmp_path), name="planted:toy")),
    )
    recs = GroundTruthTask().evaluate(ctx, SimpleNamespace(uuid="f2"), {"x": _set([(0, 9)])})
    assert recs[0]["ap"] == 1.0
