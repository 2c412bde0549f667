"""Mean IG: the simplest attribution baseline for planted ground truth.

Rank every neuron by its integrated-gradients score averaged over all of a fact's queries
(each language's queries averaged first, then the languages, so that every language weighs
the same) and keep the top ``k``. No thresholds, no uncertainty, no cross-language logic:
what any method that uses attribution should beat. Zero-baseline IG (provider method
``"ig"``), raw scores by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from harness.localizers.base import AttributionProvider, Fact, NeuronSet, options_of
from harness.registry import register


@register("localizer", "mean-ig")
@dataclass(frozen=True)
class MeanIG:
    """Top-k neurons by IG averaged over every query and language (a baseline)."""

    k: int = 10  # neurons kept (fixed in advance, not tuned on planted models)
    method: str = "ig"  # provider method: "ig" (zero baseline) or "saig"
    normalized: bool = False  # per-layer normalized scores (Eq. 5) instead of raw ones
    steps: int | None = None  # M; None: the provider's default
    languages: tuple[str, ...] | None = None  # None: every language with queries

    name: ClassVar[str] = "mean-ig"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"mean-ig: k must be >= 1, got {self.k}")

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        per_lang = []
        for _lang, queries in fact.select(self.languages).items():
            scores = [
                provider.attribute(q, self.method, steps=self.steps, normalized=self.normalized)
                for q in queries
            ]
            per_lang.append(torch.stack(scores).mean(0))
        mean = torch.stack(per_lang).mean(0)  # [L, N]
        k = min(self.k, mean.numel())
        top = torch.topk(mean.flatten(), k)  # sorted, best first
        n = mean.shape[1]
        neurons = torch.stack([top.indices // n, top.indices % n], 1).long()
        meta = {
            "localizer": self.name,
            "options": options_of(self),
            "languages": list(fact.select(self.languages)),
        }
        return NeuronSet(neurons, top.values.float(), meta)
