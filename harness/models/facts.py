"""The dataset as training and evaluation text for the tiny models.

Reads the rows of a built RML-LAMA folder (``data/<lang>/*.parquet``) and turns each row
into its cloze items: the query, the answer as it follows the query (after a space in
spaced languages, directly in zh and ja) and the rest of the template (its final
punctuation). The full sentence is ``query + answer + suffix``: the template with [X] and
[Y] filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rml_lama.languages import LANGUAGE_CODES


@dataclass(frozen=True)
class Cloze:
    uuid: str  # the fact, the same across languages
    relation: str  # Wikidata property id
    language: str  # ISO code
    query: str  # text before the answer, subject filled in, no trailing space
    answer: str  # the object, preceded by a space in spaced languages
    suffix: str  # what the template has after [Y] (final punctuation)

    @property
    def sentence(self) -> str:
        return self.query + self.answer + self.suffix


def read_rows(
    dataset_dir: Path, languages: tuple[str, ...] = LANGUAGE_CODES
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each language, as dicts in file order."""
    import pyarrow.parquet as pq

    rows: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        files = sorted((dataset_dir / "data" / lang).glob("*.parquet"))
        if not files:
            raise FileNotFoundError(
                f"no data/{lang}/*.parquet in {dataset_dir}; build RML-LAMA first (`rml-build`)"
            )
        rows[lang] = [r for f in files for r in pq.read_table(f).to_pylist()]
    return rows


def clozes(row: dict[str, Any]) -> list[Cloze]:
    """One cloze item per query of a row (through :func:`harness.data.row_queries`, the one
    row → queries function)."""
    from harness.data import row_queries

    return [
        Cloze(
            row["uuid"],
            row["relation"],
            row["language"],
            q.prefix,
            (" " if q.space else "") + q.answer,
            q.suffix,
        )
        for q in row_queries(row)
    ]
