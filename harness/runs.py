"""A run folder: resolved config, per-fact shards, merged tables and a summary.

::

    <run>/config.json                 model, localizers, tasks, options, dataset hash, version,
                                      and the provenance of the process that started the run
    <run>/shards/<rank>-<seq>.*.parquet  neuron sets and task records of a few facts
    <run>/shards/<rank>-<seq>.done.json  the facts of that shard and what failed on them
                                         (localizers, skipped tasks): written last (commit mark)
    <run>/neurons.parquet             merged neuron sets (fact, localizer, layer, index, score)
    <run>/results/<task>.parquet      merged per-fact task records
    <run>/summary.json                every task's summary table, and the provenance of the
                                      process that finished the run (harness/provenance.py)

Every file is written to a temporary name and renamed, and a shard counts only once its
``done`` file exists, so a run killed at any point resumes without redoing finished facts
and ends with the same results as an uninterrupted one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rml_lama.atomic import atomic_write

NEURON_COLUMNS = ("fact", "relation", "localizer", "layer", "index", "score")


def atomic_write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, default=_jsonable)
    atomic_write(path, text + "\n")


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")


def write_table(path: Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    if rows:
        table = pa.Table.from_pylist(list(rows))
    else:
        table = pa.table({c: pa.array([], pa.string()) for c in (columns or ())})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_table(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        return pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as e:
        raise RunError(f"{path}: unreadable parquet file ({e})") from None


def read_json(path: Path, what: str = "JSON file") -> Any:
    """The JSON in ``path``; a damaged file is a RunError that names it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{path}: not a valid {what} ({e})") from None


class RunError(ValueError):
    """A run folder that cannot be used as it is; the message names the file and the fix."""


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.shards = self.path / "shards"

    # -- config ---------------------------------------------------------------------------

    def check_start(self, config: dict, resume: bool) -> None:
        """Refuse, without writing anything, a start that :meth:`start` would refuse."""
        cfg_path = self.path / "config.json"
        if cfg_path.exists():
            self._check_same(cfg_path, config, resume)
            self._committed()  # a damaged shard is named now, not after the model is loaded
        elif self.shards.is_dir() and any(self.shards.glob("*.done.json")):
            raise RunError(
                f"{self.shards} holds finished shards but {cfg_path} is missing, so they "
                "cannot be matched to these settings; delete the folder or choose another --out"
            )
        elif self.path.exists() and not self.path.is_dir():
            raise RunError(f"--out {self.path}: a file, not a folder")

    def start(self, config: dict, resume: bool) -> None:
        """Create the folder, or check that a resumed one was made with the same config."""
        self.check_start(config, resume)
        cfg_path = self.path / "config.json"
        if cfg_path.exists():
            return
        atomic_write_json(cfg_path, config)

    def _check_same(self, cfg_path: Path, config: dict, resume: bool) -> None:
        old = read_json(cfg_path, "run config")
        if not isinstance(old, dict):
            raise RunError(
                f"{cfg_path}: not a run config (a JSON object); delete the folder or choose another --out"
            )
        if not resume:
            raise FileExistsError(
                f"{self.path} already holds a run; pass --resume to continue it, or choose another --out"
            )
        # provenance (versions, command line, time) may differ between the two processes
        diff = sorted(k for k in set(old) | set(config) if k != "provenance" and old.get(k) != config.get(k))
        if diff:
            raise ValueError(
                f"--resume: {cfg_path} was made with other settings ({', '.join(diff)}); "
                "use the same options or another --out"
            )

    def config(self) -> dict:
        return read_json(self.path / "config.json", "run config")

    # -- shards ---------------------------------------------------------------------------

    def done_facts(self) -> set[str]:
        return {f for _, marker in self._committed() for f in marker["facts"]}

    def next_seq(self, rank: int) -> int:
        seqs = [int(p.name.split(".")[0].split("-")[1]) for p in self.shards.glob(f"r{rank}-*.done.json")]
        return max(seqs, default=-1) + 1

    def write_shard(
        self,
        rank: int,
        seq: int,
        facts: list[str],
        neurons: list[dict],
        records: dict[str, list[dict]],
        failures: Sequence[dict] = (),
    ) -> None:
        stem = f"r{rank}-{seq:06d}"
        write_table(self.shards / f"{stem}.neurons.parquet", neurons, NEURON_COLUMNS)
        for task, rows in records.items():
            write_table(self.shards / f"{stem}.{task}.parquet", rows)
        atomic_write_json(
            self.shards / f"{stem}.done.json",
            {"facts": facts, "tasks": sorted(records), "failures": list(failures)},
        )

    def _committed(self) -> list[tuple[str, dict]]:
        """Every committed shard: (stem, its done marker). A marker that is damaged, or
        whose files are missing, is an error naming the file: its facts would be silently
        lost from the merge, and a resume would skip them."""
        out = []
        for p in sorted(self.shards.glob("*.done.json")):
            stem = p.name[: -len(".done.json")]
            marker = read_json(p, "shard marker")
            if not (
                isinstance(marker, dict)
                and isinstance(marker.get("facts"), list)
                and isinstance(marker.get("tasks", []), list)
            ):
                raise RunError(
                    f"{p}: not a shard marker (facts, tasks); delete it and run again "
                    "with --resume to redo its facts"
                )
            for name in ["neurons", *marker.get("tasks", [])]:
                part = self.shards / f"{stem}.{name}.parquet"
                if not part.is_file():
                    raise RunError(
                        f"{part}: missing, but shard {stem} is marked done by {p.name}; "
                        f"delete {p} and run again with --resume to redo its facts"
                    )
            out.append((stem, marker))
        return out

    def failures(self) -> list[dict]:
        """What failed in committed shards: ``{"fact", "kind", "name", "error"}`` each."""
        return [f for _, marker in self._committed() for f in marker.get("failures", [])]

    def collect(self, task: str | None) -> list[dict]:
        """All committed rows of the neuron sets (task None) or of one task."""
        rows = []
        for stem, _ in self._committed():
            name = "neurons" if task is None else task
            rows += read_table(self.shards / f"{stem}.{name}.parquet")
        return rows

    # -- merge ----------------------------------------------------------------------------

    def merge(self, fact_order: Iterable[str], tasks: Sequence[str]) -> None:
        """Write the merged, fact-ordered tables (independent of sharding and resumes)."""
        rank_of = {uuid: i for i, uuid in enumerate(fact_order)}

        def ordered(rows: list[dict]) -> list[dict]:
            return sorted(
                rows,
                key=lambda r: (
                    rank_of.get(r["fact"], len(rank_of)),
                    json.dumps(r, sort_keys=True, default=str),
                ),
            )

        write_table(self.path / "neurons.parquet", ordered(self.collect(None)), NEURON_COLUMNS)
        for task in tasks:
            write_table(self.path / "results" / f"{task}.parquet", ordered(self.collect(task)))

    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.path / "summary.json", summary)

    def summary(self) -> dict:
        return read_json(self.path / "summary.json", "run summary")

    def results(self, task: str) -> list[dict]:
        return read_table(self.path / "results" / f"{task}.parquet")

    def neurons(self) -> list[dict]:
        return read_table(self.path / "neurons.parquet")
