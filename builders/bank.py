"""The curated rephrasing bank: ``builders/bank/<lang>.yaml`` (format in its README).

Each entry records its origin. An entry that claims a public source (mlama, pararel,
mpararel) is checked against that source, so provenance in the dataset is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from builders import sources as src
from builders.errors import BuildError
from builders.validate import normalize
from rml_lama.relations import RELATIONS

BANK_DIR = Path(__file__).resolve().parent / "bank"
BANK_ORIGINS = ("mlama", "pararel", "mpararel", "curated")


@dataclass(frozen=True)
class Template:
    relation: str
    language: str
    template: str
    origin: str  # mlama, pararel, mpararel, curated or claude
    where: str  # the entry that holds it, for error messages and the report: "fi.yaml: P36[2]"
    meta: tuple[tuple[str, str], ...] = ()  # provenance details (model, request id, round, ...)


def bank_path(language: str, bank_dir: Path | None = None) -> Path:
    return (bank_dir or BANK_DIR) / f"{language}.yaml"


def load_bank(language: str, bank_dir: Path | None = None) -> dict[str, list[Template]]:
    """``{relation: [Template, ...]}`` for one language; raises BuildError naming the entry."""
    path = bank_path(language, bank_dir)
    if not path.is_file():
        raise BuildError(f"{path}: no rephrasing bank for language {language!r}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise BuildError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise BuildError(f"{path}{line}: malformed YAML ({what})") from e
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a mapping from relation id to a list of templates")
    bank: dict[str, list[Template]] = {}
    for rel, entries in data.items():
        if rel not in RELATIONS:
            raise BuildError(f"{path}: unknown relation {rel!r}; valid: {', '.join(RELATIONS)}")
        if not isinstance(entries, list):
            raise BuildError(f"{path}: {rel} must be a list of {{template, origin}} entries")
        out = []
        for i, entry in enumerate(entries):
            where = f"{path.name}: {rel}[{i}]"
            if isinstance(entry, str):
                entry = {"template": entry, "origin": "curated"}
            if not isinstance(entry, dict) or not isinstance(entry.get("template"), str):
                raise BuildError(f"{path}: entry {rel}[{i}] needs a 'template' string")
            origin = entry.get("origin", "curated")
            if origin not in BANK_ORIGINS:
                raise BuildError(
                    f"{path}: entry {rel}[{i}] has origin {origin!r}; valid: {', '.join(BANK_ORIGINS)}"
                )
            out.append(Template(rel, language, entry["template"].strip(), origin, where))
        bank[rel] = out
    return bank


def check_provenance(templates: list[Template], root: Path) -> list[str]:
    """Reasons for entries whose claimed source does not contain them."""
    problems = []
    cache: dict[tuple[str, str, str], set[str]] = {}
    for t in templates:
        if t.origin == "curated":
            continue
        key = (t.origin, t.language, t.relation)
        if key not in cache:
            cache[key] = {normalize(p) for p in source_patterns(root, *key)}
        if normalize(t.template) not in cache[key]:
            problems.append(
                f"{t.where}: claims origin {t.origin!r}, but {t.template!r} is not among that "
                f"source's patterns for {t.relation} ({t.language}); mark it 'curated'"
            )
    return problems


def source_patterns(root: Path, origin: str, language: str, relation: str) -> list[str]:
    if origin == "mlama":
        found = src.read_mlama_templates(root, language).get(relation)
        return [found] if found else []
    if origin == "pararel":
        return src.read_pararel(root, relation) if language == "en" else []
    if origin == "mpararel":
        return src.read_mpararel(root, language, relation)
    return []
