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
import stat
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from builders.errors import SourceError

SOURCES_ENV = "RML_LAMA_SOURCES"

# Official releases, fetched over https only when no local copy is given: (URL, the folder
# inside the archive that holds the files, the folder they go to under the sources root).
# GitHub archives are of the commits the shared copy was taken from.
RELEASES: dict[str, tuple[str, str, str]] = {
    "mlama1.1": ("https://cistern.cis.lmu.de/mlama/mlama1.1.zip", "mlama1.1/", "mlama1.1"),
    "mlama": (
        "https://github.com/norakassner/mlama/archive/bc51dee.zip",
        "data/TREx_multilingual_objects/",
        "mlama1.1-objects",
    ),
    "pararel": (
        "https://github.com/yanaiela/pararel/archive/cb55546.zip",
        "data/pattern_data/graphs_json/",
        "pararel/patterns",
    ),
    "mpararel": (
        "https://github.com/coastalcph/mpararel/archive/7153b7b.zip",
        "data/mpararel_reviewed/patterns/",
        "mpararel",
    ),
}
# The sha256 of every file the builder reads from each release (``pin_sources``). A
# download is verified against it before it is moved into the cache; see docs/guarantees.md
# for why the files are pinned rather than the archives' bytes.
PINS_FILE = Path(__file__).resolve().parent / "sources.lock.json"

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


def load_pins(path: Path = PINS_FILE) -> dict[str, dict]:
    """``{release: {"sha256": digest of its file list, "files": {path: sha256}}}``."""
    pins = json.loads(path.read_text(encoding="utf-8"))
    for name, pin in pins.items():
        if content_digest(pin["files"]) != pin["sha256"]:
            raise SourceError(
                f"{path}: the pins of {name} do not match its sha256; regenerate "
                "the file with builders.sources.pin_sources"
            )
    return pins


def content_digest(files: dict[str, str]) -> str:
    """One sha256 for a release: over its sorted ``path:sha256`` lines."""
    return hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def pin_sources(root: Path) -> dict[str, dict]:
    """The pins of a verified local copy of the sources (what ``PINS_FILE`` holds): the
    data files the readers open, not READMEs."""
    out = {}
    for name, (_, _, folder) in RELEASES.items():
        base = Path(root) / folder
        files = {
            p.relative_to(base).as_posix(): file_sha256(p)
            for p in sorted(base.rglob("*"))
            if p.is_file() and p.suffix in (".json", ".jsonl")
        }
        out[name] = {"sha256": content_digest(files), "files": files}
    return out


def download_sources(dest: Path, pins: dict[str, dict] | None = None) -> None:
    """Fetch the official releases into ``dest``, extract the pinned files and check each
    against its sha256; only a complete, verified copy is moved into place."""
    pins = load_pins() if pins is None else pins
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sources-", dir=dest.parent))
    try:
        out = tmp / "out"
        for name, (url, inner, folder) in RELEASES.items():
            if not url.startswith("https://"):
                raise SourceError(f"{name}: {url} is not https; refusing to download it")
            target = tmp / f"{name}.zip"
            try:
                with urllib.request.urlopen(url, timeout=60) as r, open(target, "wb") as f:
                    shutil.copyfileobj(r, f)
            except OSError as e:
                raise SourceError(
                    f"could not download {name} from {url} ({e}); without network, pass "
                    f"--sources DIR (or set ${SOURCES_ENV}) to a local copy of the sources"
                ) from e
            try:
                archive = zipfile.ZipFile(target)
            except zipfile.BadZipFile as e:
                raise SourceError(f"{name}: {url} is not a zip archive ({e})") from None
            try:
                with archive:
                    extract(archive, inner, out / folder, set(pins[name]["files"]), f"{name} ({url})")
            except (zipfile.BadZipFile, EOFError) as e:  # a damaged member (bad CRC, cut short)
                raise SourceError(f"{name}: {url} is a damaged zip archive ({e})") from None
            verify(out / folder, pins[name], name)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unsafe(name: str, mode: int) -> str | None:
    """Why an archive member must not be extracted, or None."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or PurePosixPath(name).is_absolute():
        return "an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "a path with '..'"
    return None


def extract(
    archive: zipfile.ZipFile, inner: str, dest: Path, wanted: set[str] | None = None, label: str = "archive"
) -> None:
    """Extract the members under ``inner`` (those in ``wanted``, if given) into ``dest``.

    Every member of the archive is checked first: one with an absolute path, a ``..``
    part or that is a link refuses the whole archive, so nothing is ever written outside
    ``dest``."""
    members = []
    for info in archive.infolist():
        why = _unsafe(info.filename, info.external_attr >> 16)
        if why:
            raise SourceError(f"{label}: member {info.filename!r} is {why}; refusing the archive")
        cut = info.filename.find(inner)
        if cut < 0 or info.is_dir():
            continue
        rel = info.filename[cut + len(inner) :]
        if rel and (wanted is None or rel in wanted):
            members.append((info, rel))
    root = dest.resolve()
    for info, rel in members:
        target = (dest / rel).resolve()
        if not target.is_relative_to(root):  # belt and braces after the checks above
            raise SourceError(f"{label}: member {info.filename!r} would land outside {dest}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def verify(folder: Path, pin: dict, name: str) -> None:
    """Every pinned file of release ``name`` is in ``folder`` with its sha256."""
    for rel, digest in sorted(pin["files"].items()):
        path = folder / rel
        if not path.is_file():
            raise SourceError(f"{name}: {rel} is missing from the downloaded release")
        actual = file_sha256(path)
        if actual != digest:
            raise SourceError(
                f"{name}: {rel} has sha256 {actual}, expected {digest} (pinned in "
                f"{PINS_FILE.name}); the release changed or the download is corrupt"
            )


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise SourceError(f"{path}: missing source file")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SourceError(f"{path}:{lineno}: not UTF-8 ({e.reason} at byte {e.start})") from None
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


def read_facts(root: Path, language: str, relation: str, allow_empty: bool = False) -> list[Fact]:
    """mLAMA facts of one relation in one language. A file without a fact is an error
    (it would drop the relation from every language) unless ``allow_empty``."""
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
    if not facts and not allow_empty:
        raise SourceError(
            f"{path}: no facts in this source file, so {relation} would be dropped "
            "from every language; restore the file, leave the relation out "
            "(--relations) or pass --allow-empty-sources"
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
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise SourceError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
