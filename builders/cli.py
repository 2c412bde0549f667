"""``rml-build``: build RML-LAMA from the public sources, check the bank, publish.

    rml-build build --sources ../shared/data          # all 7 languages, 41 relations
    rml-build build --languages en,fi --relations P36,P37 --max-facts 20 --out /tmp/ds
    rml-build check-bank                               # validate the curated bank only
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from builders.errors import BuildError
from rml_lama import DATASET_DIR, LANGUAGE_CODES, RELATION_IDS


def _split(value: str | None, default: tuple[str, ...]) -> list[str]:
    if not value:
        return list(default)
    return [v.strip() for v in value.split(",") if v.strip()]


def _fail(e: Exception) -> None:
    click.echo(f"rml-build: error: {e}", err=True)
    sys.exit(2)


sources_option = click.option(
    "--sources", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder with mlama1.1/, pararel/, mpararel/ (default: $RML_LAMA_SOURCES, "
    "else download the official releases into the user cache).",
)
languages_option = click.option(
    "--languages", default=None, help=f"Comma-separated languages (default: all of "
    f"{','.join(LANGUAGE_CODES)}).",
)
bank_option = click.option(
    "--bank", "bank_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None, help="Folder of the curated rephrasing bank (default: builders/bank).",
)
relations_option = click.option(
    "--relations", default=None, help="Comma-separated relation ids (default: all 41).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Build, validate and publish the RML-LAMA dataset."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@sources_option
@languages_option
@relations_option
@bank_option
@click.option("--max-facts", type=int, default=None,
              help="At most this many facts per relation (a subset build).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DATASET_DIR,
              show_default=True, help="Dataset folder to write (data/, README.md, manifest).")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def build(sources, languages, relations, bank_dir, max_facts, out, quiet) -> None:
    """Build the dataset from the sources and the rephrasing bank."""
    from builders.build import BuildConfig
    from builders.build import build as run_build
    from builders.sources import resolve_sources

    try:
        config = BuildConfig(
            sources=resolve_sources(sources),
            out=out,
            languages=_split(languages, LANGUAGE_CODES),
            relations=_split(relations, RELATION_IDS),
            max_facts_per_relation=max_facts,
            bank_dir=bank_dir,
            progress=not quiet,
        )
        start = time.perf_counter()
        manifest_path = run_build(config)
    except (BuildError, ValueError) as e:
        _fail(e)
    if not quiet:
        print_summary(json.loads(manifest_path.read_text()), time.perf_counter() - start, out)


def print_summary(manifest: dict, seconds: float, out: Path) -> None:
    click.echo(f"RML-LAMA built in {seconds:.1f} s into {out}")
    click.echo(f"content hash {manifest['content_hash'][:16]}…")
    click.echo(f"{'lang':<5}{'facts':>8}{'queries':>9}{'q/fact':>8}{'rels':>6}")
    for lang, s in manifest["statistics"].items():
        click.echo(f"{lang:<5}{s['facts']:>8}{s['queries']:>9}{s['queries_per_fact']:>8}"
                   f"{s['relations']:>6}")
    if manifest["rejections"]:
        rej = ", ".join(f"{k} {v}" for k, v in manifest["rejections"].items())
        click.echo(f"rejected: {rej} (see {out / 'validation_report.jsonl'})")


@main.command("check-bank")
@sources_option
@languages_option
@relations_option
@bank_option
def check_bank(sources, languages, relations, bank_dir) -> None:
    """Validate the curated rephrasing bank and report per (relation, language) counts."""
    from builders.build import bank_templates, require_templates, select_templates
    from builders.sources import resolve_sources

    try:
        langs = _split(languages, LANGUAGE_CODES)
        rels = _split(relations, RELATION_IDS)
        templates = bank_templates(resolve_sources(sources), langs, rels, bank_dir)
        accepted, rejections = select_templates(templates)
        for r in rejections:
            click.echo(f"{r.source}: {r.rule}: {r.reason}", err=True)
        require_templates(accepted, langs, rels)
    except (BuildError, ValueError) as e:
        _fail(e)
    counts = [len(v) for v in accepted.values()]
    click.echo(f"bank OK: {sum(counts)} templates, {min(counts)}–{max(counts)} per "
               f"(relation, language), {len(rejections)} duplicates")
    if rejections:
        sys.exit(1)


if __name__ == "__main__":
    main()
