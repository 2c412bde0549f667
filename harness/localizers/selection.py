"""Threshold-and-vote selection shared by the knowledge-neuron baselines (Dai et al. 2022,
AMIG): coarse neurons per query, then refinement across a language's queries."""

from __future__ import annotations

import math

import torch

from harness.localizers.uncertainty import check_finite


def coarse(scores: torch.Tensor, ratio: float, strict: bool, what: str = "scores") -> torch.Tensor:
    """Coarse neurons of one query: ``scores > ratio · max`` (``strict``, AMIG) or
    ``scores >= ratio · max`` (Dai et al.), the max over all ``[L, N]`` neurons. Nothing is
    selected when ``max <= 0`` (no neuron raises the answer probability)."""
    check_finite(scores, what)
    top = float(scores.max()) if scores.numel() else 0.0
    if top <= 0:
        return torch.zeros(scores.shape, dtype=torch.bool)
    return scores > ratio * top if strict else scores >= ratio * top


def min_count(share: float, n_queries: int) -> int:
    """Queries a neuron must appear in to be kept: ``max(1, ceil(share · T))`` (a neuron
    never selected by any query is never kept; ``share = 0`` is the union)."""
    return max(1, math.ceil(share * n_queries - 1e-9))


def refine(masks: torch.Tensor, share: float) -> torch.Tensor:
    """``masks [T, L, N]`` bool -> ``[L, N]``: neurons in at least ``min_count(share, T)``
    of the T queries."""
    return masks.sum(0) >= min_count(share, masks.shape[0])
