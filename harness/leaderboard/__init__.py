"""The RML-LAMA leaderboard: tables, figures and a static page made from runs and submissions.

    from harness.leaderboard import build_leaderboard
    paths = build_leaderboard(["runs/"], "leaderboard")   # run folders, or folders of runs
    paths.index   # leaderboard/index.html

Outputs under ``out_dir``: ``tables/<id>.md|csv`` (the paper's layouts: ΔP per language,
the ablation, the layer distribution, the application tasks present), ``figures/*.png``
(Fig. 4 and Fig. 5) and ``index.html`` (sortable tables and the figures). Accepted
submissions in ``out_dir/submissions`` are included. ``rml-leaderboard`` is the CLI.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.leaderboard.sources import Source, combine, find_runs, load_run
from harness.leaderboard.submission import (
    SubmissionError,
    as_source,
    export_run,
    load_submission,
    submission_schema,
    submit_file,
    validate,
    write_submission,
)
from harness.leaderboard.tables import Table, build_tables
from harness.runs import RunFolder
from rml_lama.atomic import atomic_write

__all__ = [
    "LeaderboardPaths",
    "Source",
    "SubmissionError",
    "Table",
    "build_leaderboard",
    "export_run",
    "load_sources",
    "load_submission",
    "submission_schema",
    "submit_file",
    "validate",
    "write_submission",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaderboardPaths:
    index: Path  # out_dir/index.html
    tables: tuple[Path, ...]  # out_dir/tables/*.md and *.csv
    figures: tuple[Path, ...]  # out_dir/figures/*.png
    warnings: tuple[str, ...]  # clashes, skipped submissions, different datasets

    def all(self) -> list[Path]:
        return [self.index, *self.tables, *self.figures]


def load_sources(
    runs: Iterable[str | Path | RunFolder | Source],
    submissions_dir: str | Path | None = None,
) -> tuple[list[Source], list[str]]:
    """Runs (run folders or folders of runs) then the valid submissions of
    ``submissions_dir``; an invalid submission there is skipped with a warning."""
    sources: list[Source] = []
    paths: list[Path] = []
    for r in runs:
        if isinstance(r, Source):
            sources.append(r)
        else:
            paths.append(r.path if isinstance(r, RunFolder) else Path(r))
    sources += [load_run(p) for p in find_runs(paths)]
    warnings: list[str] = []
    if submissions_dir is not None and Path(submissions_dir).is_dir():
        for path in sorted(Path(submissions_dir).glob("*.json")):
            try:
                sources.append(as_source(load_submission(path), path))
            except SubmissionError as e:
                warnings.append(f"skipped {e}")
    return sources, warnings


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def _remove_stale(folder: Path, keep: Iterable[Path], patterns: tuple[str, ...]) -> None:
    kept = {p.resolve() for p in keep}
    for pattern in patterns:
        for p in folder.glob(pattern):
            if p.resolve() not in kept:
                p.unlink()


def build_leaderboard(
    runs: Iterable[str | Path | RunFolder | Source],
    out_dir: str | Path = "leaderboard",
    submissions: str | Path | bool = True,
    figures: bool = True,
) -> LeaderboardPaths:
    """Write the tables, figures and page for ``runs`` plus the accepted submissions
    (``True``: ``out_dir/submissions``; a folder; ``False``: none). ``figures=False``
    skips drawing (seconds) and leaves the page without figures."""
    from harness.leaderboard.figures import build_figures
    from harness.leaderboard.html import render_page
    from harness.leaderboard.tables import write_tables

    if isinstance(runs, str | Path | RunFolder):
        runs = [runs]
    out = Path(out_dir)
    sub_dir = (out / "submissions") if submissions is True else (Path(submissions) if submissions else None)
    sources, warnings = load_sources(runs, sub_dir)
    rows, models, clashes = combine(sources)
    warnings += clashes
    tables: list[Table] = build_tables(rows, models)
    table_paths = write_tables(tables, out / "tables")
    drawn = build_figures(rows, models, out / "figures") if figures else []
    _remove_stale(out / "tables", table_paths, ("*.md", "*.csv"))
    if figures:
        _remove_stale(out / "figures", [p for _, p in drawn], ("*.png",))
    page = render_page(
        tables,
        [(spec, p.relative_to(out).as_posix(), png_size(p.read_bytes())) for spec, p in drawn],
        sources,
        models,
        warnings,
        {t.id: {"CSV": f"tables/{t.id}.csv", "Markdown": f"tables/{t.id}.md"} for t in tables},
    )
    index = out / "index.html"
    atomic_write(index, page)
    for w in warnings:
        log.warning("%s", w)
    return LeaderboardPaths(index, tuple(table_paths), tuple(p for _, p in drawn), tuple(warnings))
