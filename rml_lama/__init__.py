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
    "dataset_hash",
    "load",
]

# Resolved once, at import: $RML_LAMA_DATA, the checkout's rml_lama/, or <cache>/dataset.
DATASET_DIR = dataset_dir()


def dataset_hash(dataset: str | Path | None = None) -> str:
    """The content hash of a dataset: the ``content_hash`` of the ``manifest.json`` that
    ``rml-build`` writes; for a folder without one (a hand-made test dataset) ``sha256:`` of
    its ``data/<lang>/*.parquet`` files (relative path and bytes); for a Hub id ``hub:<id>``.
    ``None`` is the built folder :data:`DATASET_DIR`."""
    import hashlib
    import json

    folder = Path(dataset) if dataset is not None else DATASET_DIR
    if dataset is not None and not folder.exists():
        return f"hub:{dataset}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        try:
            return str(json.loads(manifest.read_text(encoding="utf-8"))["content_hash"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{manifest}: not a dataset manifest ({type(e).__name__}: {e}); "
                             "rebuild the dataset (rml-build build)") from None
    files = sorted((folder / "data").glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no built dataset in {folder} (no manifest.json, no "
                                "data/<lang>/*.parquet); run `rml-build build` first")
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return "sha256:" + h.hexdigest()


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
