"""``rml-eval models``: list the registered models, train and locate the tiny ones.

The lead CLI mounts :data:`models` as a subcommand; it also runs on its own::

    python -m harness.models.cli list
    python -m harness.models.cli train tiny-gpt --config micro
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.models.configs import CONFIGS, TINY_MODELS
from harness.models.crosslingual import KN_SUBSETS
from harness.models.specs import model_specs

_dataset_option = click.option(
    "--dataset",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="built RML-LAMA folder (default: the one in the rml_lama package)",
)


@click.group("models")
def models() -> None:
    """Registered models and the tiny models trained on RML-LAMA."""


@models.command("list")
def list_models() -> None:
    """Every model name, with its kind, size, Hugging Face id and description."""
    for spec in model_specs():
        source = spec.hf_id or "(trained here)"
        gated = " [gated]" if spec.gated else ""
        click.echo(f"{spec.name:16} {spec.kind:7} {spec.params:>6}  {source:42} {spec.description}{gated}")


@models.command("train")
@click.argument("name", type=click.Choice(list(TINY_MODELS)))
@click.option("--config", "config", type=click.Choice(list(CONFIGS)), default="demo", show_default=True)
@_dataset_option
@click.option("--force", is_flag=True, help="retrain even if the cache has this model")
def train(name: str, config: str, dataset: Path | None, force: bool) -> None:
    """Train tiny model NAME into the cache (or reuse it) and print its accuracy report."""
    from harness.models.report import format_report
    from harness.models.tiny import load_report, train_tiny

    try:
        path = train_tiny(name, config, dataset, force=force)
    except (ValueError, OSError) as e:  # OSError: a cache folder not writable, a full disk
        raise click.ClickException(str(e)) from None
    report = load_report(path)
    click.echo(format_report(report))
    click.echo(f"trained in {report['seconds']['total']:.0f} s; model folder: {path}")


@models.command("path")
@click.argument("name", type=click.Choice(list(TINY_MODELS)))
@click.option("--config", "config", type=click.Choice(list(CONFIGS)), default="demo", show_default=True)
@_dataset_option
def path(name: str, config: str, dataset: Path | None) -> None:
    """Print the cache folder of tiny model NAME (and whether it is built)."""
    from harness.models.tiny import tiny_model_dir

    try:
        folder = tiny_model_dir(name, config, dataset)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{folder}{'' if folder.exists() else '  (not built yet)'}")


@models.command("crosslingual")
@click.argument("name")
@click.option(
    "--facts",
    "n_facts",
    type=click.IntRange(min=1),
    default=None,
    help="at most this many known facts of the subset for kn and suppression (default: all)",
)
@click.option(
    "--subset",
    type=click.Choice(KN_SUBSETS),
    default="test",
    show_default=True,
    help="known facts kn runs on: test and dev are a seeded disjoint split (choose on dev, "
    "report test); first: the split's order",
)
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True, help="IG steps")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the result to this JSON file",
)
@click.option("--no-save", is_flag=True, help="do not store it in the model's report.json")
def crosslingual(
    name: str, n_facts: int | None, subset: str, steps: int, out: Path | None, no_save: bool
) -> None:
    """Measure how language-agnostic tiny model NAME's knowledge is: transfer, kn neurons
    per language and their intersection, the cross-language suppression matrix."""
    import json

    from harness.models.cache import atomic_file
    from harness.models.crosslingual import crosslingual_report, format_crosslingual
    from harness.models.loading import ModelUnavailableError, load_model
    from harness.registry import RegistryError

    try:
        lm = load_model(name)
    except (FileNotFoundError, ValueError, RegistryError, ModelUnavailableError) as e:
        raise click.ClickException(str(e)) from None
    if not (Path(lm.spec.hf_id) / "splits.json").exists():
        raise click.ClickException(f"model {name!r} is not a tiny model: it has no splits.json")
    try:
        rep = crosslingual_report(lm, n_facts=n_facts, subset=subset, steps=steps)
    except ValueError as e:  # the dataset it was trained on is gone
        raise click.ClickException(str(e)) from None
    click.echo(format_crosslingual(rep))
    text = json.dumps(rep, indent=1, ensure_ascii=False)
    if out is not None:
        atomic_file(out, text)
        click.echo(f"written to {out}")
    if not no_save:
        report_path = Path(lm.spec.hf_id) / "report.json"
        report = json.loads(report_path.read_text(encoding="utf-8"))
        report["crosslingual"] = rep
        atomic_file(report_path, json.dumps(report, indent=1, ensure_ascii=False))
        click.echo(f"stored under 'crosslingual' in {report_path}")


main = models

if __name__ == "__main__":
    main()
