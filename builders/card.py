"""Checks of the dataset card's YAML metadata against the Hub's dataset card conventions.

The card is parsed with huggingface_hub's :class:`DatasetCard` (which builds a
:class:`DatasetCardData`); the values are then checked against the conventions the Hub
documents for dataset cards (https://huggingface.co/docs/hub/datasets-cards): the allowed
size buckets, multilinguality and creator values, ISO 639-1 language codes, Hub-id
``source_datasets``, and ``configs`` whose data files exist. The Hub's own online
validator (``DatasetCard.validate``) needs the network; this runs offline on every build.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

SIZE_CATEGORIES = (
    "n<1K",
    "1K<n<10K",
    "10K<n<100K",
    "100K<n<1M",
    "1M<n<10M",
    "10M<n<100M",
    "100M<n<1B",
    "1B<n<10B",
    "10B<n<100B",
    "100B<n<1T",
    "n>1T",
)
MULTILINGUALITY = ("monolingual", "multilingual", "translation", "other")
CREATORS = ("crowdsourced", "expert-generated", "found", "machine-generated", "other", "no-annotation")
# The Hub's task categories RML-LAMA can be listed under (a subset of the Hub's list).
TASK_CATEGORIES = ("fill-mask", "text-generation", "question-answering", "text2text-generation")
REQUIRED = (
    "license",
    "language",
    "pretty_name",
    "size_categories",
    "task_categories",
    "source_datasets",
    "configs",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$|^[A-Za-z0-9][\w.-]*$")


def check_card(text: str, folder: Path | None = None, languages: tuple[str, ...] = ()) -> list[str]:
    """Problems with the card's metadata ([] when it keeps the conventions). ``folder``:
    the dataset folder, to check that every config's data files exist; ``languages``: the
    language codes the card must list."""
    from huggingface_hub import DatasetCard

    try:
        data = DatasetCard(text).data.to_dict()
    except Exception as e:  # a card huggingface_hub cannot parse is the first problem
        return [f"README.md: the YAML metadata does not parse as a dataset card ({e})"]
    problems = [f"README.md: metadata field {k!r} is missing" for k in REQUIRED if not data.get(k)]

    def values(key: str) -> list:
        v = data.get(key) or []
        return v if isinstance(v, list) else [v]

    for key, allowed in (
        ("size_categories", SIZE_CATEGORIES),
        ("multilinguality", MULTILINGUALITY),
        ("annotations_creators", CREATORS),
        ("language_creators", CREATORS),
        ("task_categories", TASK_CATEGORIES),
    ):
        for v in values(key):
            if v not in allowed:
                problems.append(f"README.md: {key} {v!r} is not one of: {', '.join(allowed)}")
    for v in values("language"):
        if not re.fullmatch(r"[a-z]{2}", str(v)):
            problems.append(f"README.md: language {v!r} is not an ISO 639-1 code")
    missing = sorted(set(languages) - set(values("language")))
    if missing:
        problems.append(f"README.md: language lacks {', '.join(missing)}")
    for v in values("source_datasets"):
        hub = str(v).split("|", 1)[1] if str(v).startswith("extended|") else str(v)
        if hub != "original" and not _HUB_ID.match(hub):
            problems.append(
                f"README.md: source_datasets {v!r} is neither 'original' nor 'extended|<Hub dataset id>'"
            )
    defaults = [c for c in values("configs") if isinstance(c, dict) and c.get("default")]
    if values("configs") and len(defaults) != 1:
        problems.append(f"README.md: configs need exactly one default, found {len(defaults)}")
    if folder is not None:
        files = [p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()]
        for c in values("configs"):
            for df in c.get("data_files", []) if isinstance(c, dict) else []:
                if not fnmatch.filter(files, df.get("path", "")):
                    problems.append(
                        f"README.md: config {c.get('config_name')!r} lists "
                        f"{df.get('path')!r}, which matches no file"
                    )
    return problems
