"""The main job (``rml-eval demo``): everything end to end on the embedded tiny model.

1. build RML-LAMA from the sources if it is not built;
2. train ``tiny-gpt-shared`` on it (entities as language-neutral tokens, so it has
   language-agnostic knowledge to find), or load it from the cache; ``--model tiny-gpt``
   runs the per-language negative control instead;
3. run MATRICE, AMIG and Random (plus the ablation variants) on facts the model knows,
   with every registered built-in task;
4. write the leaderboard and print where everything is.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from harness.evaluate import EvalConfig, evaluate
from harness.provenance import Laps
from rml_lama import DATASET_DIR

DEMO_LOCALIZERS = ("matrice", "amig", "random")
DEMO_TASKS = (
    "layer-distribution",
    "suppress-enhance",
    "ablation",  # RQ1-2: Fig. 4, Fig. 5, Table II
    "suppress-enhance-k",
    "cross-language",  # matched budgets (ΔP vs k), neurons from one language
    "edit-erasure",
    "edit-update",
    "enhance-low-resource",
    "inject",  # RQ3: Tables III-V, Fig. 6
)


def ensure_dataset(sources: str | Path | None) -> None:
    if (DATASET_DIR / "manifest.json").exists():
        return
    from rml_lama.extras import require

    require("build", "rml-eval demo (to build the dataset first)")
    from builders.build import BuildConfig, build
    from builders.sources import resolve_sources

    click.echo("building RML-LAMA …")
    build(BuildConfig(sources=resolve_sources(sources)))


def run_demo(
    sources: str | Path | None = None,
    facts: int = 8,
    other_facts: int = 2,
    out: str = "runs/demo",
    leaderboard: str = "leaderboard",
    model: str = "tiny-gpt-shared",
    tasks: tuple[str, ...] = DEMO_TASKS,
) -> Path:
    t0 = time.perf_counter()
    laps = Laps()
    ensure_dataset(sources)
    laps.lap("demo: build or find the dataset")
    from harness.models import load_report, load_splits

    splits = load_splits(model)  # trains the model on first use
    laps.lap("demo: train or load the model")
    report = load_report(model)
    # known facts for localization, plus a few of the other splits for the application tasks
    fact_ids = (
        list(splits.known[:facts])
        + list(splits.high_resource_only[:other_facts])
        + list(splits.held_out[:other_facts])
    )
    t1 = time.perf_counter()
    import torch

    torch.set_num_threads(1)  # a tiny model's matrix products gain nothing from more threads
    cfg = EvalConfig(
        model=model,
        localizers=list(DEMO_LOCALIZERS),
        tasks=list(tasks),
        fact_ids=fact_ids,
        out=out,
        resume=True,
    )
    run = evaluate(cfg)
    t2 = time.perf_counter()
    laps.lap("evaluation")  # replaced by the run's own stages in summary.json
    from harness.summary import print_summary

    print_summary(run.summary())
    built = False
    from rml_lama.extras import missing

    if missing("leaderboard"):
        click.echo(
            f"leaderboard skipped: it needs the [leaderboard] extra (missing: "
            f'{", ".join(missing("leaderboard"))}); pip install "rml-lama[leaderboard]"'
        )
    else:
        from harness.leaderboard import build_leaderboard

        built = bool(build_leaderboard([run.path], leaderboard).index)
    t3 = time.perf_counter()
    laps.lap("demo: leaderboard")
    _add_stages(run, laps)
    acc = report.get("accuracy", report)
    click.echo(f"\nmodel {model}: accuracy report in its cache folder ({_short(acc)})")
    click.echo(f"run folder:  {run.path}")
    if built:
        click.echo(f"leaderboard: {Path(leaderboard) / 'index.html'}")
    click.echo(f"time: data+model {t1 - t0:.0f} s, evaluation {t2 - t1:.0f} s, leaderboard {t3 - t2:.0f} s")
    return run.path


def _add_stages(run, laps: Laps) -> None:
    """The demo's own stages (dataset, model; leaderboard) go around the run's own in
    summary.json, in the order they ran."""
    summary = run.summary()
    prov = summary.setdefault("provenance", {})
    mine = laps.as_list()
    at = next(i for i, s in enumerate(mine) if s["stage"] == "evaluation")
    prov["stages"] = mine[:at] + prov.get("stages", []) + mine[at + 1 :]
    run.write_summary(summary)


def _short(acc) -> str:
    try:
        known = acc["known"]
        return "known facts: " + ", ".join(f"{lang} {v:.0%}" for lang, v in known.items())
    except (KeyError, TypeError, AttributeError):
        return "see report.json"
