"""``rml-leaderboard``: build the leaderboard, add submissions, export a run as one.

    rml-leaderboard                                   # = build: runs/* + leaderboard/submissions
    rml-leaderboard build runs/tiny runs/llama --out leaderboard
    rml-leaderboard export runs/my-plugin --localizer acme/sparse --out sparse.json
    rml-leaderboard submit sparse.json                # validate, add to leaderboard/submissions
    rml-leaderboard schema                            # rewrite leaderboard/submission.schema.json

The CLI only parses options and calls :mod:`harness.leaderboard`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness.leaderboard import build_leaderboard, export_run, submit_file, write_submission
from harness.leaderboard.sources import find_runs, unfinished_runs
from harness.leaderboard.submission import SubmissionError, schema_text
from rml_lama.atomic import atomic_write
from rml_lama.extras import MissingExtraError, require


def _fail(e: Exception, code: int = 2) -> None:
    if isinstance(e, OSError) and e.filename is not None:  # name the file, not the errno
        text = f"{e.filename}: {e.strerror or e}"
    else:
        text = str(e)
    click.echo(f"rml-leaderboard: error: {text}", err=True)
    sys.exit(code)


_BUILD_OPTIONS = (
    click.option(
        "--runs",
        "runs_opt",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A run folder, or a folder of run folders (repeatable; default: runs/).",
    ),
    click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("leaderboard"),
        show_default=True,
        help="Leaderboard folder (tables/, figures/, index.html).",
    ),
    click.option(
        "--submissions",
        type=click.Path(file_okay=False, path_type=Path),
        help="Submissions folder (default: OUT/submissions).",
    ),
    click.option("--no-submissions", is_flag=True, help="Leave the submissions out."),
    click.option("--no-figures", is_flag=True, help="Tables and page only (faster)."),
)


def _build_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_BUILD_OPTIONS):
        f = option(f)
    return f


def _build(
    runs: tuple[Path, ...], out: Path, submissions: Path | None, no_submissions: bool, no_figures: bool
) -> None:
    runs = runs or (Path("runs"),)
    if runs == (Path("runs"),) and not Path("runs").is_dir():
        click.echo("rml-leaderboard: no runs/ folder; building from the submissions only", err=True)
        runs = ()
    subs: Path | bool = False if no_submissions else (submissions or True)
    try:
        _check_something_to_show(
            runs, None if subs is False else (out / "submissions" if subs is True else subs)
        )
        paths = build_leaderboard(runs, out, submissions=subs, figures=not no_figures)
    except (ValueError, FileNotFoundError, OSError) as e:
        _fail(e)
    click.echo(f"{len(paths.tables)} table files, {len(paths.figures)} figures; open {paths.index}")
    for w in paths.warnings:
        click.echo(f"warning: {w}", err=True)


def _check_something_to_show(runs: tuple[Path, ...], submissions: Path | None) -> None:
    """An empty leaderboard is an error, not a page that shows nothing; a started run
    without a summary is named (its results are not shown until it is finished)."""
    unfinished = unfinished_runs(runs)
    for u in unfinished:
        click.echo(
            f"rml-leaderboard: warning: {u} is unfinished (no summary.json); finish it with "
            f"rml-eval ... --out {u} --resume",
            err=True,
        )
    if find_runs(runs) or (submissions is not None and any(Path(submissions).glob("*.json"))):
        return
    where = ", ".join(str(r) for r in runs) or "runs/"
    extra = f" ({len(unfinished)} unfinished, e.g. {unfinished[0]})" if unfinished else ""
    raise ValueError(
        f"nothing to show: no finished run in {where}{extra} and no submission; "
        "run rml-eval first, or pass --runs FOLDER"
    )


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_build_options
@click.pass_context
def main(
    ctx: click.Context,
    runs_opt: tuple[Path, ...],
    out: Path,
    submissions: Path | None,
    no_submissions: bool,
    no_figures: bool,
) -> None:
    """Build the RML-LAMA leaderboard from runs and submissions (the default command), add a
    submission, or export a run as one. Subcommands: build, submit, export, schema."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        require("leaderboard", "rml-leaderboard")
    except MissingExtraError as e:
        _fail(e)
    if ctx.invoked_subcommand is None:
        _build(runs_opt, out, submissions, no_submissions, no_figures)


@main.command()
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@_build_options
def build(
    runs: tuple[Path, ...],
    runs_opt: tuple[Path, ...],
    out: Path,
    submissions: Path | None,
    no_submissions: bool,
    no_figures: bool,
) -> None:
    """Write OUT/tables, OUT/figures and OUT/index.html from RUNS (run folders or folders of
    runs; default runs/) and the accepted submissions."""
    _build(runs + runs_opt, out, submissions, no_submissions, no_figures)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("leaderboard/submissions"),
    show_default=True,
    help="Submissions folder.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Overwrite an earlier submission for the same localizer, model and dataset.",
)
def submit(file: Path, dest: Path, replace: bool) -> None:
    """Validate FILE against the submission schema and add it to the submissions."""
    try:
        path = submit_file(file, dest, replace=replace)
    except SubmissionError as e:
        _fail(e, code=1)
    except (FileExistsError, OSError) as e:
        _fail(e)
    click.echo(f"accepted: {path}")


@main.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The submission file to write.",
)
@click.option("--localizer", help="The localizer it is about (default: the run's only one).")
@click.option("--package", help="Plugin distribution (default: from its entry point, or rml-lama).")
@click.option("--package-version", help="Its version (default: the installed one).")
@click.option("--submitter", help="Who submits (name or handle).")
@click.option("--notes", help="Free text shown with the submission.")
@click.option("--with-baselines", is_flag=True, help="Keep every localizer's rows, not only the named one's.")
def export(
    run: Path,
    out_file: Path,
    localizer: str | None,
    package: str | None,
    package_version: str | None,
    submitter: str | None,
    notes: str | None,
    with_baselines: bool,
) -> None:
    """Make a submission file from a RUN folder."""
    try:
        sub = export_run(
            run,
            localizer=localizer,
            package=package,
            version=package_version,
            submitter=submitter,
            with_baselines=with_baselines,
            notes=notes,
        )
        write_submission(sub, out_file)
    except (SubmissionError, ValueError, FileNotFoundError, OSError) as e:
        _fail(e)
    click.echo(
        f"wrote {out_file} ({sub['localizer']['name']} on {sub['model']}, tasks: {', '.join(sub['tasks'])})"
    )


@main.command()
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("leaderboard/submission.schema.json"),
    show_default=True,
)
def schema(out_file: Path) -> None:
    """Write the submission JSON Schema."""
    try:
        atomic_write(out_file, schema_text())
    except OSError as e:
        _fail(e)
    click.echo(f"wrote {out_file}")


if __name__ == "__main__":
    main()
