"""Where leaderboard results come from: run folders and accepted submissions.

A :class:`Source` is one model's summary tables (a run's ``summary.json`` ``tasks`` section,
or a submission's ``tasks``) with its provenance. :func:`combine` merges the sources into
one list of rows per task, each row tagged with its model (``_model``); when two sources give the
same (model, task, localizer), the first one wins and the clash is reported as a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Not a task: the run summary's per-localizer neuron counts, tabulated like one.
LOCALIZER_STATS = "localizer-stats"
# Keys :func:`combine` adds to every row (underscored: a task's own fields never clash).
MODEL, SOURCE = "_model", "_source"


@dataclass(frozen=True)
class Source:
    kind: str  # "run" or "submission"
    name: str  # run folder name or submission file stem
    path: Path
    model: str
    dataset_hash: str
    tasks: dict[str, list[dict]]  # task name → summary rows
    localizers: dict[str, dict] = field(default_factory=dict)  # name → {facts, mean_neurons}
    localizer: str | None = None  # the localizer a submission is about
    package: str | None = None  # its plugin package and version
    version: str | None = None
    submitter: str | None = None

    def localizer_names(self) -> list[str]:
        names = {row_localizer(r) for rows in self.tasks.values() for r in rows}
        names |= set(self.localizers)
        return sorted(n for n in names if n)


def row_localizer(row: Mapping[str, Any]) -> str | None:
    """A row's localizer (every task's rows have one)."""
    value = row.get("localizer")
    return None if value is None else str(value)


def task_order(tasks: Iterable[str], config: Mapping[str, Any]) -> list[str]:
    """``tasks`` in the order the run's config lists them (summary.json sorts its keys)."""
    tasks = list(tasks)
    wanted = [t for t in config.get("tasks") or [] if t in tasks]
    return wanted + [t for t in tasks if t not in wanted]


def load_run(path: str | Path) -> Source:
    """A run folder with a ``summary.json`` (see :mod:`harness.runs`)."""
    path = Path(path)
    summary_path = path / "summary.json"
    if not summary_path.exists():
        raise FileNotFoundError(f"{path} is not a finished run: it has no summary.json")
    summary = _read_json(summary_path)
    problem = summary_problem(summary)
    if problem:
        raise ValueError(
            f"{summary_path}: not a run summary ({problem}); rerun the merge with "
            f"`rml-eval ... --out {path} --resume`, or leave the run out"
        )
    config = summary.get("config")
    if config is None and (path / "config.json").exists():
        config = _read_json(path / "config.json")
        if not isinstance(config, dict):
            raise ValueError(f"{path / 'config.json'}: not a run config (a JSON object)")
    config = config or {}
    return Source(
        kind="run",
        name=path.name,
        path=path,
        model=str(config.get("model", "unknown")),
        dataset_hash=str(config.get("dataset_hash", "unknown")),
        tasks={t: list(summary["tasks"][t] or []) for t in task_order(summary.get("tasks", {}), config)},
        localizers=dict(summary.get("localizers") or {}),
        package="rml-lama",
        version=config.get("package_version"),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def summary_problem(summary: Any) -> str | None:
    """What makes ``summary`` unusable as a run's summary.json, or None."""
    if not isinstance(summary, dict):
        return f"a JSON {type(summary).__name__}, not an object"
    if not isinstance(summary.get("config", {}), dict | None):
        return "config is not an object"
    tasks = summary.get("tasks", {})
    if not isinstance(tasks, dict):
        return "tasks is not an object of task name to rows"
    for task, rows in tasks.items():
        if rows is not None and (not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows)):
            return f"tasks.{task} is not a list of rows (objects)"
    locs = summary.get("localizers") or {}
    if not isinstance(locs, dict) or not all(isinstance(v, dict) for v in locs.values()):
        return "localizers is not an object of localizer name to counts"
    return None


def unfinished_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders among ``paths`` (or their subfolders) that were started but have no
    summary.json yet."""
    out = []
    for p in map(Path, paths):
        for c in [p] + (sorted(x for x in p.iterdir() if x.is_dir()) if p.is_dir() else []):
            if (c / "config.json").is_file() and not (c / "summary.json").is_file():
                out.append(c)
    return out


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders: each path is a run (it has summary.json) or a folder of runs (its
    immediate subfolders that have one). A path that does not exist is an error."""
    found: list[Path] = []
    for p in map(Path, paths):
        if (p / "summary.json").is_file():
            found.append(p)
        elif p.is_dir():
            found += sorted(c for c in p.iterdir() if (c / "summary.json").is_file())
        else:
            raise FileNotFoundError(f"--runs {p}: no such folder")
    return list(dict.fromkeys(found))


def combine(sources: Sequence[Source]) -> tuple[dict[str, list[dict]], list[str], list[str]]:
    """Rows per task tagged with ``_model`` and ``_source``, the models in order of first
    appearance, and warnings (clashes, different datasets)."""
    tasks: dict[str, list[dict]] = {}
    owner: dict[tuple[str, str, str | None], Source] = {}
    warnings: list[str] = []
    models = list(dict.fromkeys(s.model for s in sources))
    for src in sources:
        tables = dict(src.tasks)
        if src.localizers:
            tables[LOCALIZER_STATS] = [{"localizer": k, **v} for k, v in src.localizers.items()]
        for task, rows in tables.items():
            kept = tasks.setdefault(task, [])
            for loc in dict.fromkeys(row_localizer(r) for r in rows):
                key = (src.model, task, loc)
                first = owner.setdefault(key, src)
                if first is not src:
                    warnings.append(
                        f"{task}: {loc} on {src.model} is in both {first.kind} {first.name} "
                        f"and {src.kind} {src.name}; showing the first"
                    )
                    continue
                kept += [{**r, MODEL: src.model, SOURCE: src.name} for r in rows if row_localizer(r) == loc]
    hashes = sorted({s.dataset_hash for s in sources})
    if len(hashes) > 1:
        warnings.append(
            "the sources were made on different datasets ("
            + ", ".join(
                f"{h[:12]}: {', '.join(s.name for s in sources if s.dataset_hash == h)}" for h in hashes
            )
            + "); their numbers are not strictly comparable"
        )
    for w in warnings:
        log.warning("%s", w)
    return {t: rows for t, rows in tasks.items() if rows}, models, warnings


def source_summary(src: Source) -> dict[str, Any]:
    """One row of the page's table of sources."""
    return {
        "kind": src.kind,
        "name": src.name,
        "model": src.model,
        "localizers": ", ".join(src.localizer_names()),
        "tasks": ", ".join(sorted(src.tasks)),
        "dataset": src.dataset_hash[:12],
        "package": " ".join(x for x in (src.package, src.version) if x),
        "submitter": src.submitter or "",
    }
