"""RML-LAMA: Rephrased Multilingual LAMA.

Cloze queries for facts (subject, relation, object) from mLAMA, several paraphrases per
language in zh, en, fr, fi, hu, ja, ko. The built dataset lives in ``rml_lama/data`` and is
loadable with ``datasets.load_dataset("rml_lama", "fi")`` from the repository root, or with
:func:`load` from anywhere. :func:`load` reads the files on disk; ``load_dataset`` caches a
local folder by name, so after a rebuild pass ``download_mode="force_redownload"`` once.
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
            raise ValueError(
                f"{manifest}: not a dataset manifest ({type(e).__name__}: {e}); "
                "rebuild the dataset (rml-build build)"
            ) from None
    files = sorted((folder / "data").glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(
            f"no built dataset in {folder} (no manifest.json, no "
            "data/<lang>/*.parquet); run `rml-build build` first"
        )
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
    return _read_local(folder, language)


def _data_files(folder: Path, language: str) -> list[Path]:
    """The parquet files of ``language``'s test split: the card's ``configs`` when it
    declares the language, else ``data/<lang>/*.parquet`` (what ``rml-build`` writes)."""
    from huggingface_hub.repocard import metadata_load

    patterns = [f"data/{language}/*.parquet"]
    configs = (metadata_load(folder / "README.md") or {}).get("configs") or []
    for config in configs:
        if isinstance(config, dict) and config.get("config_name") == language:
            declared = config.get("data_files") or []
            declared = [declared] if isinstance(declared, str | dict) else declared
            patterns = [
                d if isinstance(d, str) else d.get("path")
                for d in declared
                if isinstance(d, str) or d.get("split", "test") == "test"
            ]
            patterns = [q for p in patterns for q in ([p] if isinstance(p, str) else p or [])]
    files = sorted({f for pattern in patterns for f in folder.glob(pattern) if f.is_file()})
    if not files:
        raise FileNotFoundError(
            f"{folder}: no parquet file for config {language!r} (looked for "
            f"{', '.join(patterns) or 'nothing: its card lists no test files'})"
        )
    return files


def _read_local(folder: Path, language: str) -> datasets.Dataset:
    """The rows on disk now, read with pyarrow into memory. Not ``load_dataset(folder)``:
    for a local folder whose card declares configs, datasets keys its Arrow cache by the
    config name alone, so after a rebuild (or for another folder named ``rml_lama``) it
    returns the old rows. The features are the ones ``rml-build`` stores in the files."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in _data_files(folder, language)]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    return datasets.Dataset(table, split=datasets.Split.TEST)
