"""Fake run folders: config.json and summary.json with plausible values, no model needed."""

from __future__ import annotations

import math
import random
from pathlib import Path

from harness.runs import RunFolder

LANGS = ("zh", "en", "fr", "fi", "hu", "ja", "ko")
DATASET_HASH = "ab" * 32
LOCALIZERS = ("matrice", "amig", "random")
VARIANTS = ("matrice", "matrice-no-uaq", "matrice-no-ual")


def fake_summary(
    model: str, n_layers: int, seed: int, apps: bool = False, localizers: tuple[str, ...] = LOCALIZERS
) -> dict:
    rng = random.Random(seed)
    config = {
        "model": model,
        "localizers": list(localizers),
        "tasks": ["layer-distribution", "suppress-enhance", "ablation"]
        + (["edit-erasure", "enhance-low-resource", "inject"] if apps else []),
        "languages": list(LANGS),
        "relations": None,
        "facts": 12,
        "fact_ids": None,
        "dataset": None,
        "device": None,
        "dtype": None,
        "seed": 0,
        "steps": 20,
        "correct_only": True,
        "localizer_options": {},
        "task_options": {},
        "plugins": [],
        "shard_size": 4,
        "dataset_hash": DATASET_HASH,
        "package_version": "0.1.0",
    }
    dp = []
    for loc in dict.fromkeys(localizers + VARIANTS):
        for lang in LANGS:
            dp.append(
                {
                    "localizer": loc,
                    "language": lang,
                    "dp_enhance": round(rng.uniform(0.05, 3.0), 6),
                    "dp_suppress": round(-rng.uniform(0.05, 0.95), 6),
                    "queries": rng.randint(5, 60),
                    "facts": rng.randint(2, 12),
                }
            )
    if "random" in localizers:  # cells whose mean is NaN (P before underflowed)
        cell = next(r for r in dp if r["localizer"] == "random" and r["language"] == "ko")
        cell["dp_enhance"] = cell["dp_suppress"] = math.nan
    layers = []
    for loc in localizers:
        counts = [rng.randint(0, 9) for _ in range(n_layers)]
        for layer, c in enumerate(counts):
            layers.append(
                {"localizer": loc, "layer": layer, "neurons": c, "share": c / sum(counts), "facts": 12}
            )
    ablation = [
        {"localizer": "matrice", "enhance": 1.0, "suppress": 1.0, "languages": 7, "queries": 210},
        {"localizer": "matrice-no-uaq", "enhance": 0.713, "suppress": 0.845, "languages": 7, "queries": 205},
        {"localizer": "matrice-no-ual", "enhance": 0.652, "suppress": 0.911, "languages": 7, "queries": 198},
    ]
    tasks: dict[str, list[dict]] = {
        "layer-distribution": layers,
        "suppress-enhance": dp,
        "ablation": ablation,
    }
    if apps:  # the summary rows of harness/tasks/{edit,low_resource,inject}.py
        tasks["edit-erasure"] = []
        for loc in ("random", "amig", "matrice"):
            for lang in LANGS:
                row = {
                    "localizer": loc,
                    "language": lang,
                    "edit": "erasure",
                    "edit_language": "en",
                    "facts": 20,
                    "reliability_facts": 18,
                    "generality_facts": 17,
                }
                for m in ("reliability", "generality", "locality"):
                    row[m] = round(rng.random(), 4)
                    row[f"{m}_queries"] = rng.randint(20, 80)
                row["mean"] = (row["reliability"] + row["generality"] + row["locality"]) / 3
                tasks["edit-erasure"].append(row)
        tasks["enhance-low-resource"] = []
        for loc in ("random", "amig", "matrice"):
            for lang in ("fi", "hu", "ja", "ko"):
                for rel in ("all", "P19", "P36"):  # "all" first, then per relation
                    tasks["enhance-low-resource"].append(
                        {
                            "localizer": loc,
                            "language": lang,
                            "relation": rel,
                            "accuracy_before": 0.0,
                            "accuracy": round(rng.random(), 4),
                            "queries": rng.randint(5, 30),
                            "facts": rng.randint(2, 9),
                        }
                    )
        tasks["inject"] = []
        for loc in ("direct-ft", "random", "matrice"):
            for lang in LANGS:
                new, old = round(rng.random(), 4), round(rng.random(), 4)
                tasks["inject"].append(
                    {
                        "localizer": loc,
                        "language": lang,
                        "new_accuracy": new,
                        "new_accuracy_before": 0.0,
                        "old_accuracy": old,
                        "average": (new + old) / 2,
                        "facts": 8,
                        "new_queries": rng.randint(16, 40),
                        "old_queries": 30,
                    }
                )
    return {
        "config": config,
        "tasks": tasks,
        "localizers": {
            loc: {"facts": 12, "mean_neurons": round(rng.uniform(2, 9), 3)}
            for loc in dict.fromkeys(localizers + VARIANTS)
        },
    }


def make_run(
    path: Path,
    model: str = "tiny-gpt",
    n_layers: int = 4,
    seed: int = 0,
    apps: bool = False,
    localizers: tuple[str, ...] = LOCALIZERS,
) -> Path:
    summary = fake_summary(model, n_layers, seed, apps, localizers)
    run = RunFolder(path)
    run.start(summary["config"], resume=False)
    run.write_summary(summary)
    return path
