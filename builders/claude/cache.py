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
    canonical = json.dumps(
        {"v": CACHE_VERSION, "request": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def message_problem(response: object) -> str | None:
    """Why ``response`` is not a usable Messages API answer, or None. Checked before an
    answer is cached and when one is read back: a 200 of the wrong shape (from a proxy, a
    truncated body, a non-Message) must never become a cache entry that breaks every later
    run."""
    if not isinstance(response, dict):
        return f"the answer is a {type(response).__name__}, not a Message object"
    if response.get("type") != "message":
        return f"the answer's type is {response.get('type')!r}, not 'message'"
    if not isinstance(response.get("model"), str) or not response["model"]:
        return "the answer names no model"
    content = response.get("content")
    if not isinstance(content, list):
        return f"the answer's content is a {type(content).__name__}, not a list of blocks"
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"content[{i}] is not a content block"
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            return f"content[{i}] is a text block without text"
    usage = response.get("usage")
    if usage is not None and not isinstance(usage, dict):
        return f"the answer's usage is a {type(usage).__name__}, not an object"
    for k, v in (usage or {}).items():
        if k.endswith("_tokens") and v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            return f"usage.{k} is {v!r}, not a token count"
    return None


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
        if not isinstance(entry, dict) or entry.get("key") != key:
            log.warning("%s: not the cache entry of this request; it will be asked again", path)
            return None
        why = message_problem(entry.get("response"))
        if why:
            log.warning("%s: bad cached answer (%s); it will be asked again", path, why)
            return None
        return entry

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, body: dict, response: dict, **info) -> dict:
        """Store a response to ``body``; ``info``: request_id, via, batch_id (provenance).
        A response that is not a well-formed Message raises ValueError: it is not stored."""
        why = message_problem(response)
        if why:
            raise ValueError(f"not cached: {why}")
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
            if not isinstance(body, dict) or request_key(body) != entry.get("key"):
                problems.append(f"line {lineno}: key does not match the request; refused")
                continue
            why = message_problem(response)
            if why:
                problems.append(f"line {lineno}: {why}; refused")
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
