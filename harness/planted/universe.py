"""The closed query set a planted model is fitted and checked against.

For a base model with a ``splits.json`` (the tiny models): plant the ``held_out`` facts
(never trained on), keep the ``known`` facts' accuracy, and treat every query of the split's
facts plus ``extra_facts`` other facts of the dataset (seeded sample) as negatives. For any
other model: facts none of whose queries the model answers (scanned in a seeded order of the
dataset) are planted, facts with at least one right query are the known ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.attribution.query import ClozeQuery
from harness.data import row_queries
from harness.models.facts import read_rows
from harness.planted.plant import Universe
from rml_lama.languages import LANGUAGE_CODES

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


def _by_fact(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for lang, lang_rows in rows.items():
        for r in lang_rows:
            out.setdefault(r["uuid"], {})[lang] = r
    return {u: langs for u, langs in out.items() if len(langs) == len(rows)}


def build_universe(
    adapter: ModelAdapter,
    dataset: Path,
    n_facts: int,
    splits: Any | None,
    extra_facts: int = 100,
    seed: int = 0,
    languages: Sequence[str] = LANGUAGE_CODES,
    scan_limit: int = 2000,
) -> Universe:
    rows = _by_fact(read_rows(dataset, tuple(languages)))
    order = list(rows)
    rng = random.Random(seed)
    if splits is not None:
        planted = [u for u in splits.held_out if u in rows][:n_facts]
        known = [u for u in splits.known if u in rows]
        base = [u for u in (*splits.known, *splits.high_resource_only, *splits.held_out) if u in rows]
    else:
        planted, known = _unknown_and_known(adapter, rows, order, n_facts, rng, scan_limit)
        base = planted + known
    if not planted:
        raise ValueError("no fact to plant: the base model answers some query of every fact scanned")
    others = [u for u in order if u not in set(base)]
    extra = rng.sample(others, min(extra_facts, len(others)))
    uuids = planted + [u for u in base if u not in set(planted)] + extra
    queries: list[ClozeQuery] = []
    fact_of, lang_of = [], []
    for u in uuids:
        for lang in languages:
            for q in row_queries(rows[u][lang]):
                queries.append(q)
                fact_of.append(u)
                lang_of.append(lang)
    relation = {u: rows[u][languages[0]]["relation"] for u in uuids}
    return Universe(queries, fact_of, lang_of, planted, known, relation)


def _unknown_and_known(
    adapter: ModelAdapter, rows: dict, order: list[str], n_facts: int, rng: random.Random, scan_limit: int
) -> tuple[list[str], list[str]]:
    from harness.attribution import predict_batch

    order = list(order)
    rng.shuffle(order)
    unknown: list[Any] = []
    known: list[Any] = []
    for u in order[:scan_limit]:
        qs = [q for r in rows[u].values() for q in row_queries(r)]
        right = sum(p.correct for p in predict_batch(adapter, qs, batch_size=64))
        (unknown if right == 0 else known).append(u)
        if len(unknown) >= n_facts and len(known) >= 4 * n_facts:
            break
    return unknown[:n_facts], known


def keep_unknown(universe: Universe, correct: Any, n_facts: int, max_accuracy: float) -> Universe:
    """``universe`` with only the first ``n_facts`` candidate facts whose pre-plant query
    accuracy (``correct [Q]`` bool, the base model's) is at most ``max_accuracy`` left to
    plant; the other candidates stay in the query set as negatives."""
    acc: dict[str, list[bool]] = {}
    for q, uuid in enumerate(universe.fact_of):
        acc.setdefault(uuid, []).append(bool(correct[q]))
    keep = [u for u in universe.planted if sum(acc[u]) / len(acc[u]) <= max_accuracy][:n_facts]
    if not keep:
        raise ValueError(f"no candidate fact has a pre-plant accuracy <= {max_accuracy}")
    return Universe(
        universe.queries, universe.fact_of, universe.lang_of, keep, universe.known, universe.relation
    )
