"""Readers for the public sources: mLAMA 1.1, ParaRel and mParaRel.

The layout is the official releases' layout (see ``../shared/data/README.md``)::

    mlama1.1/<lang>/<relation>.jsonl       facts, one per line
    mlama1.1/<lang>/templates.jsonl        one template per relation
    mlama1.1-objects/<lang>.json           typed candidate sets per relation
    pararel/patterns/<relation>.jsonl      English paraphrase patterns
    mpararel/<lang>/<relation>.jsonl       multilingual paraphrase patterns (zh: zh-hans)

Source resolution: ``--sources DIR``, else ``$RML_LAMA_SOURCES``, else the official
releases downloaded into the user cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from builders.errors import SourceError

SOURCES_ENV = "RML_LAMA_SOURCES"

# Official releases; fetched only when no local copy is given.
RELEASES = {
    "mlama1.1": "http://cistern.cis.lmu.de/mlama/mlama1.1.zip",
    "mlama": "https://github.com/norakassner/mlama/archive/refs/heads/master.zip",
    "pararel": "https://github.com/yanaiela/pararel/archive/refs/heads/main.zip",
    "mpararel": "https://github.com/coastalcph/mpararel/archive/refs/heads/master.zip",
}

_MPARAREL_DIR = {"zh": "zh-hans"}


@dataclass(frozen=True)
class Fact:
    uuid: str
    relation: str
    language: str
    subject: str
    subject_uri: str
    object: str
    object_uri: str
    lineid: int


def user_cache_dir() -> Path:
    from rml_lama.home import cache_root

    return cache_root()


def resolve_sources(sources: str | Path | None = None, download: bool = True) -> Path:
    """The folder holding the sources: the argument, ``$RML_LAMA_SOURCES``, or the cache."""
    if sources is not None:
        where, how = Path(sources), "--sources"
    elif os.environ.get(SOURCES_ENV):
        where, how = Path(os.environ[SOURCES_ENV]), f"${SOURCES_ENV}"
    else:
        where, how = user_cache_dir() / "sources", "the user cache"
        if not (where / "mlama1.1").is_dir():
            if not download:
                raise SourceError(f"no sources in {where}; pass --sources DIR")
            download_sources(where)
    if not (where / "mlama1.1").is_dir():
        raise SourceError(
            f"{how} points to {where}, which has no mlama1.1/ folder; "
            "pass --sources DIR with the layout described in the README"
        )
    return where


def download_sources(dest: Path) -> None:
    """Fetch the official releases into ``dest`` and lay them out as the readers expect."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sources-", dir=dest.parent))
    try:
        archives = {}
        for name, url in RELEASES.items():
            target = tmp / f"{name}.zip"
            try:
                with urllib.request.urlopen(url, timeout=60) as r, open(target, "wb") as f:
                    shutil.copyfileobj(r, f)
            except OSError as e:
                raise SourceError(
                    f"could not download {name} from {url} ({e}); without network, pass "
                    f"--sources DIR (or set ${SOURCES_ENV}) to a local copy of the sources"
                ) from e
            archives[name] = zipfile.ZipFile(target)
        out = tmp / "out"
        _extract(archives["mlama1.1"], "mlama1.1/", out / "mlama1.1")
        _extract(archives["mlama"], "data/TREx_multilingual_objects/", out / "mlama1.1-objects")
        _extract(archives["pararel"], "data/pattern_data/graphs_json/", out / "pararel/patterns")
        _extract(archives["mpararel"], "data/mpararel_reviewed/patterns/", out / "mpararel")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, inner: str, dest: Path) -> None:
    for info in archive.infolist():
        name = info.filename
        cut = name.find(inner)
        if cut < 0 or info.is_dir():
            continue
        rel = name[cut + len(inner):]
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(dest / rel, "wb") as dst:
            shutil.copyfileobj(src, dst)


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise SourceError(f"{path}: missing source file")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise SourceError(f"{path}:{lineno}: malformed JSON ({e.msg})") from e
            if not isinstance(obj, dict):
                raise SourceError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def _require(path: Path, lineno: int, obj: dict, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if not isinstance(obj.get(k), (str, int)) or obj.get(k) == ""]
    if missing:
        raise SourceError(f"{path}:{lineno}: missing or empty field(s) {', '.join(missing)}")


def read_facts(root: Path, language: str, relation: str) -> list[Fact]:
    """mLAMA facts of one relation in one language."""
    path = root / "mlama1.1" / language / f"{relation}.jsonl"
    keys = ("uuid", "sub_label", "sub_uri", "obj_label", "obj_uri")
    facts = []
    for lineno, obj in _jsonl(path):
        _require(path, lineno, obj, keys)
        facts.append(
            Fact(
                uuid=str(obj["uuid"]),
                relation=relation,
                language=language,
                subject=str(obj["sub_label"]).strip(),
                subject_uri=str(obj["sub_uri"]),
                object=str(obj["obj_label"]).strip(),
                object_uri=str(obj["obj_uri"]),
                lineid=int(obj.get("lineid", lineno)),
            )
        )
    return facts


def read_mlama_templates(root: Path, language: str) -> dict[str, str]:
    """The single mLAMA template of each relation in one language."""
    path = root / "mlama1.1" / language / "templates.jsonl"
    out = {}
    for lineno, obj in _jsonl(path):
        _require(path, lineno, obj, ("relation", "template"))
        out[str(obj["relation"])] = str(obj["template"])
    return out


def _patterns(path: Path) -> list[str]:
    """The ``pattern`` field of every line of a ParaRel-style file ([] if it is absent)."""
    if not path.exists():
        return []
    out = []
    for lineno, obj in _jsonl(path):
        _require(path, lineno, obj, ("pattern",))
        out.append(str(obj["pattern"]))
    return out


def read_pararel(root: Path, relation: str) -> list[str]:
    """ParaRel's English patterns for a relation (none exist for P31 and P527)."""
    return _patterns(root / "pararel" / "patterns" / f"{relation}.jsonl")


def read_mpararel(root: Path, language: str, relation: str) -> list[str]:
    """mParaRel's reviewed patterns for a relation in one language ([] if none)."""
    return _patterns(root / "mpararel" / _MPARAREL_DIR.get(language, language) / f"{relation}.jsonl")


def read_candidates(root: Path, language: str) -> dict[str, dict[str, list[str]]]:
    """mLAMA's typed candidate sets: ``{relation: {"subjects": [...], "objects": [...]}}``."""
    path = root / "mlama1.1-objects" / f"{language}.json"
    if not path.is_file():
        raise SourceError(f"{path}: missing source file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SourceError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
