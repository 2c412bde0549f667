"""Synthetic facts whose attribution scores are given tensors (no model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from harness.attribution.query import ClozeQuery
from harness.localizers import Fact, StaticProvider

SHAPE = (2, 8)  # (L, N) of the synthetic facts


def query(lang: str, i: int, fact: str = "f") -> ClozeQuery:
    return ClozeQuery(f"{fact} {lang} query {i}", "answer")


def synthetic(
    scores: Mapping[str, Sequence[torch.Tensor]], method: str = "saig", uuid: str = "f"
) -> tuple[Fact, StaticProvider]:
    """``scores[lang][t]`` ([L, N]) becomes query t of lang, served for ``method``."""
    queries = {lang: tuple(query(lang, i, uuid) for i in range(len(ts))) for lang, ts in scores.items()}
    table = {(q, method): t for lang, ts in scores.items() for q, t in zip(queries[lang], ts, strict=True)}
    return Fact(uuid, "P36", queries), StaticProvider(table)


def scores_with(shape: tuple[int, int] = SHAPE, **neurons: float) -> torch.Tensor:
    """An [L, N] zero matrix with ``n<layer>_<index>=value`` entries set."""
    out = torch.zeros(shape)
    for key, value in neurons.items():
        layer, index = key[1:].split("_")
        out[int(layer), int(index)] = value
    return out
