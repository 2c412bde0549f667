"""The leaderboard reads what the harness writes: records go through a real run folder
(shards, merge) and the real task and run summaries, then into the tables and a submission."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from leaderboard_fakes import DATASET_HASH

from harness.leaderboard import build_leaderboard, export_run, validate
from harness.runs import RunFolder

LANGS = ("en", "fi", "zh")
LOCS = ("matrice", "matrice-no-uaq", "matrice-no-ual", "amig", "random")


def _records(rng: random.Random, facts: list[str]) -> tuple[list[dict], dict[str, list[dict]]]:
    neurons, dp, layers = [], [], []
    for fact in facts:
        for loc in LOCS:
            picked = [(rng.randrange(4), rng.randrange(64)) for _ in range(rng.randint(1, 5))]
            neurons += [
                {
                    "fact": fact,
                    "relation": "P36",
                    "localizer": loc,
                    "layer": a,
                    "index": b,
                    "score": rng.random(),
                }
                for a, b in picked
            ]
            layers += [
                {
                    "fact": fact,
                    "relation": "P36",
                    "localizer": loc,
                    "layer": layer,
                    "count": sum(a == layer for a, _ in picked),
                    "n_layers": 4,
                }
                for layer in range(4)
            ]
            for lang in LANGS:
                for q in range(3):
                    before = rng.uniform(0.2, 0.9)
                    sup, enh = before * rng.uniform(0, 1), min(1.0, before * rng.uniform(1, 2))
                    correct = rng.random() < 0.8
                    dp.append(
                        {
                            "fact": fact,
                            "relation": "P36",
                            "localizer": loc,
                            "language": lang,
                            "query": q,
                            "correct": correct,
                            "included": correct,
                            "n_neurons": len(picked),
                            "p_before": before,
                            "p_suppress": sup,
                            "p_enhance": enh,
                            "dp_suppress": (sup - before) / before,
                            "dp_enhance": (enh - before) / before,
                        }
                    )
    ablation = [r for r in dp if r["localizer"].startswith("matrice")]
    return neurons, {
        "suppress-enhance": dp,
        "layer-distribution": layers,
        "ablation": ablation,
        **_application_records(rng, facts),
    }


def _application_records(rng: random.Random, facts: list[str]) -> dict[str, list[dict]]:
    """Records in the shapes docs/tasks.md gives for the application tasks."""
    edit, low, inject = [], [], []
    for fact in facts:
        for loc in ("random", "amig", "matrice"):
            for lang in LANGS:
                rec = {
                    "fact": fact,
                    "relation": "P36",
                    "localizer": loc,
                    "language": lang,
                    "edit": "erasure",
                    "edit_language": "en",
                    "n_neurons": 3,
                }
                for m in ("reliability", "generality", "locality"):
                    rec[f"{m}_n"] = n = rng.randint(1, 5)
                    rec[f"{m}_ok"] = rng.randint(0, n)
                edit.append(rec)
                if lang != "en":
                    q = rng.randint(1, 3)
                    low.append(
                        {
                            "fact": fact,
                            "relation": rng.choice(["P36", "P19"]),
                            "localizer": loc,
                            "language": lang,
                            "q_error": q,
                            "fixed": rng.randint(0, q),
                            "queries": list(range(q)),
                            "n_neurons": 3,
                            "english_criterion": "majority",
                            "factor": 2.0,
                        }
                    )
        for loc in ("direct-ft", "matrice"):
            for lang in LANGS:
                inject.append(
                    {
                        "fact": fact,
                        "relation": "P36",
                        "localizer": loc,
                        "language": lang,
                        "new_n": 3,
                        "new_ok": rng.randint(0, 3),
                        "new_ok_before": 0,
                        "old_n": 10,
                        "old_ok": rng.randint(5, 10),
                        "trained": 100,
                        "steps": 10,
                        "lr": 0.01,
                        "loss_first": 3.0,
                        "loss_last": 0.5,
                        "new_by": "split",
                    }
                )
    return {"edit-erasure": edit, "enhance-low-resource": low, "inject": inject}


def test_a_harness_summary_builds_and_exports(tmp_path: Path) -> None:
    from harness import registry
    from harness.evaluate import summarize

    names = (
        "layer-distribution",
        "suppress-enhance",
        "ablation",
        "edit-erasure",
        "enhance-low-resource",
        "inject",
    )
    tasks = {name: registry.get("task", name)() for name in names}
    run = RunFolder(tmp_path / "runs" / "real")
    run.start(
        {
            "model": "tiny-gpt-micro",
            "localizers": ["matrice", "amig", "random"],
            "tasks": list(tasks),
            "dataset_hash": DATASET_HASH,
            "package_version": "0.1.0",
        },
        resume=False,
    )
    facts = [f"fact-{i}" for i in range(4)]
    neurons, records = _records(random.Random(0), facts)
    run.write_shard(0, 0, facts, neurons, records)
    run.merge(facts, list(tasks))
    summary = summarize(run, tasks)
    run.write_summary(summary)

    paths = build_leaderboard([run.path.parent], tmp_path / "board", figures=False)
    names = {p.name for p in paths.tables}
    assert {
        "dp-enhance.csv",
        "dp-suppress.csv",
        "ablation.csv",
        "layer-distribution.csv",
        "localizer-stats.csv",
    } <= names
    dp = {
        r["localizer"]: r
        for r in csv.DictReader(io.StringIO((tmp_path / "board" / "tables" / "dp-suppress.csv").read_text()))
    }
    for row in summary["tasks"]["suppress-enhance"]:
        column = row["language"]  # "all": the column of the rows pooled over languages
        cell = dp[row["localizer"]][f"tiny-gpt-micro:{column}"]
        assert float(cell) == row["dp_suppress"]
        assert int(dp[row["localizer"]][f"tiny-gpt-micro:{column}:n"]) == row["queries"]
    ablation = {
        r["localizer"]: r
        for r in csv.DictReader(io.StringIO((tmp_path / "board" / "tables" / "ablation.csv").read_text()))
    }
    assert float(ablation["matrice"]["tiny-gpt-micro:Enhance"]) == 1.0
    assert list(ablation) == ["matrice", "matrice-no-uaq", "matrice-no-ual"]

    def table(name: str) -> dict[str, dict]:
        text = (tmp_path / "board" / "tables" / f"{name}.csv").read_text()
        return {r["localizer"]: r for r in csv.DictReader(io.StringIO(text))}

    for row in summary["tasks"]["edit-erasure"]:
        got = table("edit-erasure-generality")[row["localizer"]]
        assert float(got[f"tiny-gpt-micro:en→{row['language']}"]) == row["generality"]
        assert int(got[f"tiny-gpt-micro:en→{row['language']}:n"]) == row["generality_queries"]
    overall = [r for r in summary["tasks"]["enhance-low-resource"] if r["relation"] == "all"]
    assert overall and len(overall) < len(summary["tasks"]["enhance-low-resource"])
    for row in overall:
        got = table("enhance-low-resource-accuracy")[row["localizer"]]
        assert float(got[f"tiny-gpt-micro:{row['language']}"]) == row["accuracy"]
        assert int(got[f"tiny-gpt-micro:{row['language']}:n"]) == row["queries"]
    for row in summary["tasks"]["inject"]:
        for part, key in (("new", "new_accuracy"), ("old", "old_accuracy"), ("average", "average")):
            assert (
                float(table(f"inject-{part}")[row["localizer"]][f"tiny-gpt-micro:{row['language']}"])
                == row[key]
            )
    assert list(table("inject-new")) == ["direct-ft", "matrice"]

    for name in ("matrice", "amig", "random"):
        sub = export_run(run.path, localizer=name, with_baselines=name == "random")
        assert validate(sub) == [], name
