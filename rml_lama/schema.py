"""The row schema of RML-LAMA: one row per fact and language."""

from __future__ import annotations

import datasets

# Query origins. A template records where it came from; queries inherit it.
# claude-fact: a query Claude wrote for one fact (fi/hu/ja/ko inflection); its template has no [X]
ORIGINS = ("mlama", "pararel", "mpararel", "curated", "claude", "claude-fact")

FEATURES = datasets.Features(
    {
        "uuid": datasets.Value("string"),  # the same fact in every language (mLAMA uuid)
        "relation": datasets.Value("string"),  # Wikidata property id, e.g. "P36"
        "subject": datasets.Value("string"),  # subject label in this language
        "subject_uri": datasets.Value("string"),  # Wikidata id, e.g. "Q142"
        "object": datasets.Value("string"),  # object label in this language (the answer)
        "object_uri": datasets.Value("string"),
        # every valid answer for (subject, relation) in this language in the sources, the
        # row's object first; a prediction of any of them counts as correct
        "objects": datasets.Sequence(datasets.Value("string")),
        "subject_mlama": datasets.Value("string"),  # the label as mLAMA gives it (zh: before
        "object_mlama": datasets.Value("string"),  # the conversion to Simplified)
        "language": datasets.Value("string"),
        "templates": datasets.Sequence(datasets.Value("string")),  # [X] ... [Y] (+ punctuation)
        "queries": datasets.Sequence(datasets.Value("string")),  # text before [Y], [X] filled in
        "template_origins": datasets.Sequence(datasets.Value("string")),  # one of ORIGINS each
    }
)
COLUMNS: tuple[str, ...] = tuple(FEATURES)
