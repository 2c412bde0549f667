"""Adding a task is one file: the example plugin (examples/task-plugin) runs, and its rows get
a leaderboard table, a figure, a console table and a submission schema with no other code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from task_helpers import FACTS, NSet, context

from harness import registry
from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import predict_batch
from harness.runs import RunFolder
from harness.tasks import build_task, manipulated

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "task-plugin"
NAME = "suppressed-accuracy"


@pytest.fixture
def plugin():
    sys.path.insert(0, str(PLUGIN))
    try:
        registry.load_plugin_module("suppressed_accuracy")
        yield sys.modules["suppressed_accuracy"]
    finally:  # leave the registry as the other tests expect it (the committed schema)
        registry._REGISTRY.entries["task"].pop(NAME, None)
        sys.modules.pop("suppressed_accuracy", None)
        sys.path.remove(str(PLUGIN))


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def test_the_plugin_runs_with_typed_options(plugin, adapter) -> None:
    task = build_task(NAME, {"value": "0.5"})  # as --task-option suppressed-accuracy.value=0.5
    assert task.value == 0.5
    with pytest.raises(ValueError, match="unknown option.*valu; valid options: value"):
        build_task(NAME, {"valu": "1"})
    fact, pairs = FACTS["c-fr"], [(0, 3), (1, 7)]
    recs = task.evaluate(context(adapter), fact, {"a": NSet(pairs)})
    for r in recs:
        with manipulated(adapter, NSet(pairs), "set", 0.5):
            right = sum(p.correct for p in predict_batch(adapter, fact.queries[r["language"]]))
        assert (r["n"], r["right"]) == (len(fact.queries[r["language"]]), right)
    rows = task.summarize([*recs, {"localizer": "a", "language": "fi", "n": 2, "right": 1}])
    fi = next(r for r in rows if r["language"] == "fi")
    assert fi["queries"] == 2 + len(fact.queries["fi"])
    assert fi["accuracy"] == (1 + next(r["right"] for r in recs if r["language"] == "fi")) / fi["queries"]


def _run(tmp_path: Path) -> Path:
    rows = [
        {"localizer": "matrice", "language": "fi", "accuracy": 0.25, "queries": 8},
        {"localizer": "matrice", "language": "en", "accuracy": 0.5, "queries": 4},
        {"localizer": "random", "language": "fi", "accuracy": 0.75, "queries": 8},
    ]
    run = RunFolder(tmp_path / "run")
    config = {
        "model": "tiny-gpt",
        "localizers": ["matrice", "random"],
        "tasks": [NAME],
        "dataset_hash": "ab" * 32,
        "package_version": "0",
    }
    run.start(config, resume=False)
    run.write_summary({"config": config, "tasks": {NAME: rows}, "localizers": {}})
    return run.path


def test_the_plugin_gets_a_table_a_figure_and_a_schema(plugin, tmp_path: Path) -> None:
    from harness.leaderboard import build_leaderboard, export_run, validate
    from harness.leaderboard.submission import submission_schema

    paths = build_leaderboard([_run(tmp_path)], tmp_path / "board", submissions=False)
    assert {p.name for p in paths.tables} == {f"{NAME}.md", f"{NAME}.csv"}
    md = (tmp_path / "board" / "tables" / f"{NAME}.md").read_text()
    assert "### Accuracy with the LAKNs set" in md
    assert "| Localizer | en | fi | avg |" in md
    assert "| MATRICE | 50.0% (n=4) | 25.0% (n=8) | 37.5% (n=12) |" in md
    assert "| Random | – | 75.0% (n=8) | 75.0% (n=8) |" in md
    assert [p.name for p in paths.figures] == [f"{NAME}.png"]
    schema = submission_schema()
    assert schema["$defs"][NAME]["required"] == ["accuracy", "language", "localizer", "queries"]
    sub = export_run(tmp_path / "run", localizer="matrice")
    assert validate(sub) == []
    sub["tasks"][NAME][0]["accuracy"] = 1.5
    assert validate(sub) == [f"$.tasks['{NAME}'][0].accuracy: 1.5 is greater than the maximum of 1"]
    from harness.summary import summary_text  # the console summary: the same tables

    text = summary_text(json.loads((tmp_path / "run" / "summary.json").read_text()))
    assert f"== {NAME}\nAccuracy with the LAKNs set\n" in text
    assert "MATRICE 50.0% (n=4) 25.0% (n=8) 37.5% (n=12)" in " ".join(text.split())


def test_an_unregistered_task_gets_no_table(tmp_path: Path) -> None:
    assert NAME not in registry.names("task")
    from harness.leaderboard import build_leaderboard

    paths = build_leaderboard([_run(tmp_path)], tmp_path / "board", submissions=False, figures=False)
    assert paths.tables == ()
