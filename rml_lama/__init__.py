"""RML-LAMA: Rephrased Multilingual LAMA.

Cloze queries for facts (subject, relation, object) from mLAMA, several paraphrases per
language in zh, en, fr, fi, hu, ja, ko. The built dataset lives in ``rml_lama/data`` and is
loadable with ``datasets.load_dataset("rml_lama", "fi")`` from the repository root, or with
:func:`load` from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rml_lama.home import HUB_REPO_ID, dataset_dir, is_built, not_built_message
from rml_lama.languages import LANGUAGE_CODES, LANGUAGES, Language, check_languages
from rml_lama.relations import RELATION_IDS, RELATIONS, Relation, check_relations

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DATASET_DIR",
    "HUB_REPO_ID",
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

# Resolved once, at import: $RML_LAMA_DATA, the checkout's rml_lama/, or <cache>/dataset.
DATASET_DIR = dataset_dir()


def load(
    language: str,
    path: str | Path | None = None,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
) -> datasets.Dataset:
    """Load one language config of RML-LAMA as a ``datasets.Dataset`` (split ``test``).

    By default from the built folder :data:`DATASET_DIR`; ``path`` names another built
    folder; ``repo_id`` (e.g. :data:`HUB_REPO_ID`) and ``revision`` read a published copy
    from the Hugging Face Hub, through the Hub's own cache.
    """
    import datasets

    check_languages([language], option="language")
    if repo_id is not None:
        if path is not None:
            raise ValueError("load(): give path or repo_id, not both")
        return datasets.load_dataset(repo_id, language, split="test", revision=revision)
    folder = Path(path) if path is not None else DATASET_DIR
    if not is_built(folder, language):
        raise FileNotFoundError(not_built_message(folder, language))
    return datasets.load_dataset(str(folder), language, split="test")
