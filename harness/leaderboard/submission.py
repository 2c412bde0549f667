"""Leaderboard submissions: a localizer's summary tables on one model, as a JSON file.

A submission names the localizer (and the plugin package and version that provide it), the
model, the dataset's content hash, and the summary tables in the shape of a run's
``summary.json`` ``tasks`` section. :func:`submission_schema` is its JSON Schema, with one
row definition per registered task made from the task's declared row type (committed as
``leaderboard/submission.schema.json`` for the built-in tasks; ``rml-leaderboard schema``
rewrites that file).

    sub = export_run("runs/my-plugin", localizer="acme/sparse")   # from a run folder
    path = submit_file("my.json", "leaderboard/submissions")       # validate, then add

Invalid submissions raise :class:`SubmissionError` whose messages start with the JSON path
of the offending value (``$.tasks['suppress-enhance'][0].queries: -1 is less than ...``).
"""

from __future__ import annotations

import json
import math
import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from harness.leaderboard.sources import LOCALIZER_STATS, Source, row_localizer
from harness.leaderboard.tables import task_output
from harness.tasks.output import row_schema
from rml_lama import LANGUAGE_CODES
from rml_lama.atomic import atomic_write

SCHEMA_VERSION = 1
MAX_ERRORS = 20

_NUM = {"type": ["number", "null"]}  # NaN is not JSON: a missing mean is null
_COUNT = {"type": "integer", "minimum": 0}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_LANG = {"type": "string", "enum": list(LANGUAGE_CODES)}


def submission_schema() -> dict[str, Any]:
    """The submission JSON Schema: a row definition per registered task (from its row type),
    and a generic row (a localizer and scalar fields) for other tasks."""
    from harness import registry

    tasks = [e.name for e in registry.entries("task") if task_output(e.name) is not None]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/rml-lama/rml-lama/leaderboard/submission.schema.json",
        "title": "RML-LAMA leaderboard submission",
        "description": "One localizer's summary tables on one model (the tasks section of a run's "
        "summary.json), with their provenance.",
        "type": "object",
        "required": ["schema_version", "localizer", "model", "dataset_hash", "tasks"],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "localizer": {
                "type": "object",
                "required": ["name", "package", "version"],
                "additionalProperties": False,
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9][A-Za-z0-9_./\-]{0,99}$",
                        "description": "the registry name, namespaced pkg/name for plugins",
                    },
                    "package": {**_NAME, "description": "the distribution that provides it"},
                    "version": {**_NAME, "description": "its version"},
                    "description": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
            "model": {**_NAME, "description": "a registry name, hf:ORG/NAME, or a name"},
            "dataset_hash": {
                "type": "string",
                "pattern": r"^([0-9a-f]{64}|hub:.+)$",
                "description": "content_hash of the dataset's manifest.json",
            },
            "harness_version": {"type": "string"},
            "submitter": {"type": "string"},
            "notes": {"type": "string"},
            "config": {"type": "object", "description": "the run's resolved config"},
            "localizers": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["facts", "mean_neurons"],
                    "properties": {"facts": _COUNT, "mean_neurons": _NUM},
                },
            },
            "tasks": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[a-z0-9][a-z0-9._-]*$"},
                "properties": {t: {"type": "array", "items": {"$ref": f"#/$defs/{t}"}} for t in tasks},
                "additionalProperties": {"type": "array", "items": {"$ref": "#/$defs/row"}},
            },
        },
        "$defs": {
            **{t: row_schema(task_output(t).row) for t in tasks},  # type: ignore[union-attr]
            "row": {
                "description": "a row of a task not registered here: a localizer and scalar fields",
                "type": "object",
                "required": ["localizer"],
                "properties": {"localizer": _NAME, "language": _LANG, "queries": _COUNT, "facts": _COUNT},
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            },
        },
    }


class SubmissionError(ValueError):
    """An invalid submission; ``errors`` are "JSONPATH: message" strings."""

    def __init__(self, where: str, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_ERRORS] + (
            [f"… and {len(errors) - MAX_ERRORS} more"] if len(errors) > MAX_ERRORS else []
        )
        super().__init__(f"{where}: invalid submission: " + "; ".join(shown))


def schema_text() -> str:
    return json.dumps(submission_schema(), indent=2, ensure_ascii=False) + "\n"


def _belongs(loc: str | None, name: str) -> bool:
    """A row of the localizer or of one of its variants (``matrice-no-uaq`` of ``matrice``)."""
    return loc is not None and (loc == name or loc.startswith(f"{name}-"))


def _message(error: Any) -> str:
    text = error.message
    return text if len(text) <= 300 else text[:297] + "..."


def validate(obj: Any) -> list[str]:
    """Every problem with a parsed submission, as "JSONPATH: message"; empty when valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(submission_schema())
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    out = [f"{e.json_path}: {_message(e)}" for e in errors]
    if out:
        return out
    name = obj["localizer"]["name"]
    if not any(_belongs(row_localizer(r), name) for rows in obj["tasks"].values() for r in rows):
        out.append(f"$.localizer.name: no row of $.tasks is about localizer {name!r}")
    for task, rows in obj["tasks"].items():
        out_spec = task_output(task)
        if out_spec is None:
            continue
        fields = out_spec.key
        seen: dict[tuple, int] = {}
        for i, r in enumerate(rows):
            key = tuple(r.get(f) for f in fields)
            if key in seen:
                out.append(
                    f"$.tasks[{json.dumps(task)}][{i}]: the same {', '.join(fields)} as row {seen[key]}"
                )
            seen.setdefault(key, i)
    return out


def _reject_constant(token: str) -> None:
    raise ValueError(f"{token} is not valid JSON; write null for a missing number")


def parse(text: str, where: str) -> dict:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise SubmissionError(where, [f"$: not JSON (line {e.lineno}, column {e.colno}): {e.msg}"]) from e
    except ValueError as e:
        raise SubmissionError(where, [f"$: {e}"]) from e


def load_submission(path: str | Path) -> dict:
    """Read and validate a submission file; raises SubmissionError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SubmissionError(str(path), [f"$: not UTF-8 ({e.reason} at byte {e.start})"]) from None
    obj = parse(text, str(path))
    errors = validate(obj)
    if errors:
        raise SubmissionError(str(path), errors)
    return obj


def as_source(obj: dict, path: Path) -> Source:
    return Source(
        kind="submission",
        name=path.stem,
        path=path,
        model=obj["model"],
        dataset_hash=obj["dataset_hash"],
        tasks={t: list(rows) for t, rows in obj["tasks"].items()},
        localizers=dict(obj.get("localizers") or {}),
        localizer=obj["localizer"]["name"],
        package=obj["localizer"]["package"],
        version=obj["localizer"]["version"],
        submitter=obj.get("submitter"),
    )


def dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def submission_filename(obj: dict) -> str:
    return f"{_slug(obj['localizer']['name'])}__{_slug(obj['model'])}__{_slug(obj['dataset_hash'])[:12]}.json"


def submit_file(path: str | Path, submissions_dir: str | Path, replace: bool = False) -> Path:
    """Validate ``path`` and add it to ``submissions_dir`` (one file per localizer, model and
    dataset); an existing different one is replaced only with ``replace``."""
    obj = load_submission(path)
    dest = Path(submissions_dir) / submission_filename(obj)
    text = dumps(obj)
    if dest.exists() and dest.read_text(encoding="utf-8") != text and not replace:
        raise FileExistsError(
            f"{dest} already holds a different submission for {obj['localizer']['name']} on "
            f"{obj['model']} (same dataset); pass --replace to overwrite it"
        )
    atomic_write(dest, text)
    return dest


# -- export --------------------------------------------------------------------------------


def _clean(v: Any) -> Any:
    """NaN/inf → null, recursively (a submission is strict JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _plugin_origin(name: str) -> tuple[str, str] | None:
    """(distribution, version) of the plugin whose entry point registers ``name``."""
    for ep in entry_points(group="rml_lama.localizers"):
        if ep.name == name and ep.dist is not None:
            return ep.dist.name, ep.dist.version
    return None


def export_run(
    run: str | Path,
    localizer: str | None = None,
    package: str | None = None,
    version: str | None = None,
    submitter: str | None = None,
    with_baselines: bool = False,
    notes: str | None = None,
) -> dict:
    """A submission from a run folder: the named localizer's rows (and its variants');
    every localizer's with ``with_baselines``. Raises ValueError if it is ambiguous."""
    from harness.leaderboard.sources import load_run

    src = load_run(run)
    summary = json.loads((Path(run) / "summary.json").read_text())
    config = summary.get("config") or {}
    chosen = list(config.get("localizers") or [])
    if localizer is None:
        if len(chosen) != 1:
            raise ValueError(
                f"{run}: the run has localizers {', '.join(chosen) or '(none)'}; "
                "name the one the submission is about with --localizer"
            )
        localizer = chosen[0]
    present = src.localizer_names()
    if not any(_belongs(n, localizer) for n in present):
        raise ValueError(
            f"{run}: no results for localizer {localizer!r}; the run has {', '.join(present) or '(none)'}"
        )
    if package is None or version is None:
        origin = _plugin_origin(localizer) or ("rml-lama", config.get("package_version") or "unknown")
        package, version = package or origin[0], version or origin[1]
    keep = (lambda r: True) if with_baselines else (lambda r: _belongs(row_localizer(r), localizer))
    tasks = {t: [r for r in rows if keep(r)] for t, rows in src.tasks.items() if t != LOCALIZER_STATS}
    sub: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "localizer": {"name": localizer, "package": package, "version": version},
        "model": src.model,
        "dataset_hash": src.dataset_hash,
        "harness_version": str(config.get("package_version", "unknown")),
        "tasks": {t: rows for t, rows in tasks.items() if rows},
        "localizers": {k: v for k, v in src.localizers.items() if with_baselines or _belongs(k, localizer)},
        "config": config,
    }
    if submitter:
        sub["submitter"] = submitter
    if notes:
        sub["notes"] = notes
    return _clean(sub)


def write_submission(obj: dict, path: str | Path) -> Path:
    """Validate and write (atomically) a submission file."""
    errors = validate(obj)
    if errors:
        raise SubmissionError(str(path), errors)
    path = Path(path)
    atomic_write(path, dumps(obj))
    return path
