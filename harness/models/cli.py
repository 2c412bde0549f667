"""``rml-eval models``: list the registered models, train and locate the tiny ones.

The lead CLI mounts :data:`models` as a subcommand; it also runs on its own::

    python -m harness.models.cli list
    python -m harness.models.cli train tiny-gpt --config micro
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.models.configs import CONFIGS, TINY_MODELS
from harness.models.specs import model_specs

_dataset_option = click.option(
    "--dataset", type=click.Path(file_okay=False, path_type=Path), default=None,
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


main = models

if __name__ == "__main__":
    main()
