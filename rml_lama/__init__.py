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
    "load",
]

DATASET_DIR = Path(__file__).resolve().parent  # the dataset folder: card + data/


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
