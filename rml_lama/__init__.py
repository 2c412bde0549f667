"""RML-LAMA: Rephrased Multilingual LAMA.

Cloze queries for facts (subject, relation, object) from mLAMA, several paraphrases per
language in zh, en, fr, fi, hu, ja, ko. The built dataset lives in ``rml_lama/data`` and is
loadable with ``datasets.load_dataset("rml_lama", "fi")`` from the repository root, or with
:func:`load` from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rml_lama.languages import LANGUAGE_CODES, LANGUAGES, Language, check_languages
from rml_lama.relations import RELATION_IDS, RELATIONS, Relation, check_relations

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DATASET_DIR",
    "LANGUAGES",
    "LANGUAGE_CODES",
    "RELATIONS",
    "RELATION_IDS",
    "Language",
    "Relation",
    "check_languages",
    "check_relations",
    "dataset_hash",
    "load",
]

DATASET_DIR = Path(__file__).resolve().parent  # the dataset folder: card + data/


def dataset_hash(dataset: str | Path | None = None) -> str:
    """The content hash of a dataset: the ``content_hash`` of the ``manifest.json`` that
    ``rml-build`` writes; for a folder without one (a hand-made test dataset) ``sha256:`` of
    its ``data/<lang>/*.parquet`` files (relative path and bytes); for a Hub id ``hub:<id>``.
    ``None`` is the built folder next to this package."""
    import hashlib
    import json

    folder = Path(dataset) if dataset is not None else DATASET_DIR
    if dataset is not None and not folder.exists():
        return f"hub:{dataset}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return str(json.loads(manifest.read_text(encoding="utf-8"))["content_hash"])
    files = sorted((folder / "data").glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no built dataset in {folder} (no manifest.json, no "
                                "data/<lang>/*.parquet); run `rml-build build` first")
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return "sha256:" + h.hexdigest()


def load(language: str, path: str | Path | None = None) -> datasets.Dataset:
    """Load one language config of RML-LAMA as a ``datasets.Dataset`` (split ``test``).

    ``path`` is a dataset folder (with a card whose YAML declares the configs) or a Hub
    id; it defaults to the built folder next to this package.
    """
    import datasets

    check_languages([language], option="language")
    where = str(path) if path is not None else str(DATASET_DIR)
    if path is None or Path(where).exists():
        card = Path(where) / "README.md"
        if not (Path(where) / "data" / language).is_dir() or not card.exists():
            raise FileNotFoundError(
                f"RML-LAMA is not built in {where} (no data/{language}/ or README.md); "
                "run `rml-build` first (see the README)"
            )
    return datasets.load_dataset(where, language, split="test")
