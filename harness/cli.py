"""``rml-eval``: localize language-agnostic knowledge neurons and measure them.

    rml-eval --localizer matrice,amig,random --model tiny-gpt --facts 20
    rml-eval list
    rml-eval demo
    accelerate launch --num_processes 8 -m harness.cli --localizer matrice --model llama3

The CLI only parses options and calls :func:`harness.evaluate.evaluate`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from harness import registry
from harness.config_file import config_option
from harness.models.cli import models
from harness.options import option_defaults, option_help
from harness.provenance import version_option
from rml_lama import LANGUAGE_CODES


def _split(value: str | None) -> list[str] | None:
    """None when the option is not given; ``''`` or ``','`` is a list of nothing, which
    the checks refuse (instead of silently meaning "all")."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_localizer_options(items: tuple[str, ...]) -> dict[str, dict]:
    """``("matrice.tau=0.3", ...)`` → ``{"matrice": {"tau": 0.3}}``."""
    out: dict[str, dict] = {}
    for item in items:
        name, sep, rest = item.partition(".")
        key, eq, value = rest.partition("=")
        if not sep or not eq or not key:
            raise click.BadParameter(
                f"{item!r}: expected LOCALIZER.KEY=VALUE, e.g. matrice.tau=0.3",
                param_hint="--localizer-option",
            )
        out.setdefault(name, {})[key] = _parse_value(value)
    return out


def parse_task_options(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("inject.steps=50", ...)`` → ``{"inject": {"steps": "50"}}`` (the task converts the
    value to its field's type); the old flat ``KEY=VALUE`` form is refused with a hint."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        lhs, eq, value = item.partition("=")
        name, dot, key = lhs.strip().partition(".")
        if not eq or not dot or not name or not key:
            from harness.tasks.base import flat_option_hint

            hint = flat_option_hint(lhs.strip()) if eq and not dot else ""
            raise click.BadParameter(
                f"{item!r}: expected TASK.KEY=VALUE, e.g. inject.steps=50{hint}",
                param_hint="--task-option",
            )
        out.setdefault(name, {})[key] = value
    return out


def _no_progress_bars() -> None:
    """Off a terminal (a log file, CI) the libraries' progress bars are noise: turn them off
    (``rml-eval``'s own bar checks the terminal itself)."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    try:
        import datasets
        import transformers

        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
    except (ImportError, AttributeError):
        pass


def _fail(e: BaseException, code: int = 2) -> None:
    click.echo(f"rml-eval: error: {one_line(e)}", err=True)
    sys.exit(code)


def one_line(e: BaseException) -> str:
    """An error in one line; an OSError names its file. A model that cannot be loaded
    keeps its advice (the lines after the first say what to do)."""
    if type(e).__name__ == "ModelUnavailableError":
        return str(e).strip()
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror or e}"
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def fully_failed(summary: dict) -> list[str]:
    """The localizers that produced nothing: failed on every fact of the run."""
    return [
        f"{what} failed on all {f['of']} facts (first: {f['first']})"
        for what, f in (summary.get("failures") or {}).items()
        if what.startswith("localizer ") and f.get("of") and f["facts"] >= f["of"]
    ]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@version_option("rml-eval")
@config_option("rml-eval")
@click.option("--localizer", "localizers", help="Localizer name(s), comma-separated (see `rml-eval list`).")
@click.option("--model", help="Model: a registered name, hf:ORG/NAME or a local path.")
@click.option("--languages", help=f"Comma-separated (default: {','.join(LANGUAGE_CODES)}).")
@click.option("--relations", help="Comma-separated relation ids (default: all).")
@click.option("--facts", type=click.IntRange(min=1), help="At most this many facts (dataset order).")
@click.option(
    "--fact-ids", type=click.Path(exists=True, dir_okay=False), help="A file with one fact uuid per line."
)
@click.option(
    "--tasks",
    default="layer-distribution,suppress-enhance,ablation",
    show_default=True,
    help="Task name(s), comma-separated.",
)
@click.option(
    "--dataset",
    help="Dataset folder or Hub id (default: rml_lama.DATASET_DIR, where rml-build build writes).",
)
@click.option("--device", help="cpu, cuda, cuda:1 … (default: the process's accelerator).")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Riemann steps M of integrated gradients.",
)
@click.option(
    "--known-only",
    is_flag=True,
    help="Only facts the model answers correctly in every chosen language (at least one "
    "query each); --facts then counts known facts.",
)
@click.option(
    "--all-queries", is_flag=True, help="ΔP over every query, not only those the model answers correctly."
)
@click.option(
    "--localizer-option",
    "loc_opts",
    multiple=True,
    help="LOCALIZER.KEY=VALUE, e.g. matrice.tau=0.3 (repeatable).",
)
@click.option(
    "--task-option",
    "task_opts",
    multiple=True,
    help="TASK.KEY=VALUE, e.g. inject.steps=50 (repeatable; `rml-eval list` shows each task's options).",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Rows per batched pass of the attribution engine: higher is faster and "
    "takes more memory (on a GPU try 1024-4096).",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    help="Import this module first (it registers localizers/tasks/models).",
)
@click.option(
    "--out", type=click.Path(file_okay=False), default="runs/latest", show_default=True, help="Run folder."
)
@click.option("--resume", is_flag=True, help="Continue the run in --out, skipping facts done.")
@click.option(
    "--attribution-cache",
    type=click.Path(file_okay=False),
    help="Folder for an on-disk attribution cache shared across runs.",
)
@click.option(
    "--threads", type=click.IntRange(min=1), help="CPU threads for torch (default: torch's choice)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def main(
    ctx,
    localizers,
    model,
    languages,
    relations,
    facts,
    fact_ids,
    tasks,
    dataset,
    device,
    dtype,
    seed,
    steps,
    known_only,
    all_queries,
    loc_opts,
    task_opts,
    max_rows,
    plugins,
    out,
    resume,
    attribution_cache,
    threads,
    quiet,
) -> None:
    """Localize language-agnostic knowledge neurons with one or more localizers and
    measure them on tasks. Subcommands: list, demo, models."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not sys.stderr.isatty():
        _no_progress_bars()
    if ctx.invoked_subcommand is not None:
        return
    if not localizers or not model:
        click.echo(ctx.get_help())
        _fail(ValueError("--localizer and --model are required (or use a subcommand)"))
    from harness.data import read_fact_ids
    from harness.evaluate import EvalConfig, evaluate
    from harness.models.loading import ModelUnavailableError

    if threads:
        import torch

        torch.set_num_threads(threads)

    try:
        cfg = EvalConfig(
            model=model,
            localizers=_split(localizers) or [],
            tasks=_split(tasks) or [],
            languages=list(LANGUAGE_CODES) if languages is None else (_split(languages) or []),
            relations=_split(relations),
            facts=facts,
            fact_ids=read_fact_ids(fact_ids) if fact_ids else None,
            dataset=dataset,
            out=out,
            resume=resume,
            device=device,
            dtype=dtype,
            seed=seed,
            steps=steps,
            correct_only=not all_queries,
            known_only=known_only,
            localizer_options=parse_localizer_options(loc_opts),
            task_options=parse_task_options(task_opts),
            max_rows=max_rows,
            plugins=list(plugins),
            attribution_cache=attribution_cache,
            progress=not quiet,
        )
        run = evaluate(cfg)
    except (ValueError, LookupError, OSError, ModelUnavailableError) as e:
        _fail(e)
    except KeyboardInterrupt:
        click.echo(
            f"rml-eval: interrupted; the facts finished are kept in {out}: add --resume to "
            "the same command to continue",
            err=True,
        )
        sys.exit(130)
    except SystemExit as e:  # raised by plugin code (a task, a model): never a silent exit 0
        _fail(
            RuntimeError(
                f"plugin code called sys.exit({e.code}) during the run; the shards "
                f"finished so far are kept in {out} (--resume continues)"
            )
        )
    if (run.path / "summary.json").exists():
        from harness.summary import print_summary  # imports the tasks (and torch)

        summary = run.summary()
        print_summary(summary)
        click.echo(f"run folder: {run.path}")
        empty = fully_failed(summary)
        if empty:
            _fail(RuntimeError("; ".join(empty) + f"; see {run.path / 'summary.json'}"), code=1)


def _cannot_run(name: str) -> str:
    """Why a registered model cannot run (no adapter for its architecture), or ""."""
    from harness.models.specs import check_architecture, resolve_spec

    try:
        check_architecture(resolve_spec(name))
    except ValueError as e:
        return str(e).split(": ", 1)[-1]
    except LookupError:
        return ""  # a broken registration is listed under the failures already
    return ""


@main.command("list")
def list_cmd() -> None:
    """List models, localizers and tasks with one-line descriptions."""
    for kind, title in (("model", "models"), ("localizer", "localizers"), ("task", "tasks")):
        click.echo(f"{title}:")
        for e in registry.entries(kind):
            origin = "" if e.origin == "builtin" else f"  [{e.origin}]"
            if kind == "model" and (why := _cannot_run(e.name)):
                click.echo(f"  {e.name:<22} (cannot run: {why}){origin}")
                continue
            click.echo(f"  {e.name:<22} {e.description}{origin}")
            if kind == "task":
                helps = option_help(e.obj)
                for key, default in option_defaults(e.obj).items():
                    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
                    click.echo(f"  {'':<22}   --task-option {e.name}.{key}={shown}  {helps[key]}".rstrip())
        for name, why in registry.failures(kind).items():
            click.echo(f"  {name:<22} (failed to load: {why})")


@main.command()
@click.option(
    "--sources",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Source data for building the dataset if it is missing.",
)
@click.option(
    "--facts",
    type=int,
    default=8,
    show_default=True,
    help="Facts the model knows (localization, suppress/enhance, editing).",
)
@click.option(
    "--other-facts",
    type=int,
    default=2,
    show_default=True,
    help="Facts known only in en/zh/fr and held-out facts (low-resource, inject).",
)
@click.option("--out", type=click.Path(file_okay=False), default="runs/demo", show_default=True)
@click.option(
    "--leaderboard", "board", type=click.Path(file_okay=False), default="leaderboard", show_default=True
)
@click.option(
    "--model",
    default="tiny-gpt-shared",
    show_default=True,
    help="A tiny model: tiny-gpt-shared (entities shared across languages) or tiny-gpt "
    "(per-language names, the negative control), or their -bert twins.",
)
def demo(sources, facts, other_facts, out, board, model) -> None:
    """The main job: build the dataset if missing, train or load tiny-gpt-shared, run MATRICE,
    AMIG and Random on known facts with every task, and write the leaderboard."""
    from builders.errors import BuildError
    from harness.demo import run_demo
    from harness.models.loading import ModelUnavailableError

    try:
        run_demo(
            sources=sources, facts=facts, other_facts=other_facts, out=out, leaderboard=board, model=model
        )
    except (ValueError, LookupError, OSError, ImportError, BuildError, ModelUnavailableError) as e:
        _fail(e)


main.add_command(models, "models")

if __name__ == "__main__":
    main()
