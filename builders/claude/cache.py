"""A content-addressed, on-disk cache of Claude's responses.

The key is the sha256 of the request body (model, rendered prompts, schema, parameters), so
a rerun asks nothing that was answered before, an interrupted build resumes where it
stopped, and an exported cache lets anyone rebuild the same templates without a key. One
JSON file per entry, written atomically: a crash never leaves a half-written entry. Entries
hold the request body and the response, never a credential (the key lives in headers only).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from builders.sources import user_cache_dir
from rml_lama.atomic import atomic_write

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return user_cache_dir() / "claude"


def request_key(body: dict) -> str:
    """sha256 of the canonical JSON of a request body."""
    canonical = json.dumps({"v": CACHE_VERSION, "request": body}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably (paid-for responses)."""
    atomic_write(path, text, durable=True)


class ResponseCache:
    """``responses/<k[:2]>/<k>.json`` per entry; ``batches/<id>.json`` per batch in flight."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / "responses" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:  # not written by us, or damaged on disk
            log.warning("%s: unreadable cache entry (%s); it will be asked again", path, e)
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, body: dict, response: dict, **info) -> dict:
        """Store a response to ``body``; ``info``: request_id, via, batch_id (provenance)."""
        key = request_key(body)
        entry = {"key": key, "request": body, "response": response, **info}
        write_atomic(self._path(key), json.dumps(entry, ensure_ascii=False, sort_keys=True))
        return entry

    def entries(self) -> Iterator[dict]:
        for path in sorted((self.root / "responses").glob("*/*.json")):
            entry = self.get(path.stem)
            if entry is not None:
                yield entry

    # -- export and import --------------------------------------------------------------

    def export(self, out: IO[str]) -> int:
        """Write every entry as one JSON line, sorted by key; returns the count."""
        n = 0
        for entry in self.entries():
            out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
        return n

    def import_(self, lines: IO[str]) -> tuple[int, int, list[str]]:
        """Add entries from JSONL; returns (added, already present, problems). An entry whose
        key is not the hash of its request is refused: it would answer another request."""
        added, present, problems = 0, 0, []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                body, response = entry["request"], entry["response"]
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"line {lineno}: not a cache entry ({e})")
                continue
            if request_key(body) != entry.get("key"):
                problems.append(f"line {lineno}: key does not match the request; refused")
                continue
            if entry["key"] in self:
                present += 1
                continue
            info = {k: v for k, v in entry.items() if k not in ("key", "request", "response")}
            self.put(body, response, **info)
            added += 1
        return added, present, problems

    # -- batches in flight --------------------------------------------------------------

    def save_batch(self, batch_id: str, requests: dict[str, dict]) -> None:
        """Remember a submitted batch ({key: body}) so an interrupted build polls it again
        instead of paying for it twice."""
        record = {"batch_id": batch_id, "requests": requests}
        write_atomic(self.root / "batches" / f"{batch_id}.json", json.dumps(record, ensure_ascii=False))

    def pending_batches(self) -> list[dict]:
        out = []
        for path in sorted((self.root / "batches").glob("*.json")):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as e:
                log.warning("%s: unreadable batch record (%s); ignored", path, e)
        return out

    def drop_batch(self, batch_id: str) -> None:
        (self.root / "batches" / f"{batch_id}.json").unlink(missing_ok=True)
