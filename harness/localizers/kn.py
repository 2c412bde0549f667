"""Knowledge neurons of one language (Dai et al., ACL 2022), for reference.

Zero-baseline IG (provider method ``"ig"``, raw scores), coarse neurons ``score >= 0.2 ·
max`` per prompt, refinement: a neuron is kept if it is coarse in >= 70 % of the prompts.
As in the reference code, with ``adjust`` and at least ``min_prompts`` (3) prompts the
share is moved by ±0.05 until 2–5 neurons remain (down when fewer than 2, up when more
than 5; it stops at the bounds [0, 1] or when the direction would reverse, keeping the
last result).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from harness.localizers.base import AttributionProvider, Fact, NeuronSet, options_of
from harness.localizers.selection import coarse, refine
from harness.registry import register


def refine_adjusted(
    masks: torch.Tensor, share: float, low: int, high: int, step: float, max_iter: int = 40
) -> tuple[torch.Tensor, float]:
    """``refine`` with Dai et al.'s share adjustment: ``(kept [L, N], final share)``."""
    direction = 0
    for _ in range(max_iter):
        kept = refine(masks, share)
        n = int(kept.sum())
        if n < low and share - step >= -1e-9:
            new = -1
        elif n > high and share + step <= 1 + 1e-9:
            new = 1
        else:
            return kept, share
        if direction and new != direction:
            return kept, share
        direction = new
        share = round(share + new * step, 10)
    return refine(masks, share), share


@register("localizer", "kn")
@dataclass(frozen=True)
class KnowledgeNeurons:
    """Dai et al.'s knowledge neurons in one language (zero-baseline IG, 0.2·max, 70 %)."""

    language: str = "en"  # the one language whose queries are used
    threshold: float = 0.2  # coarse neurons: score >= threshold · max, per prompt
    share: float = 0.7  # refinement: coarse in >= share of the prompts
    adjust: bool = True  # move the share by ±step until low..high neurons remain
    low: int = 2
    high: int = 5
    step: float = 0.05
    min_prompts: int = 3  # adjust only with at least this many prompts
    steps: int | None = None  # M; None: the provider's default
    method: str = "ig"

    name: ClassVar[str] = "kn"

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        queries = fact.select([self.language])[self.language]
        scores = [provider.attribute(q, self.method, steps=self.steps, normalized=False) for q in queries]
        masks = torch.stack(
            [coarse(s, self.threshold, strict=False, what=f"fact {fact.uuid}") for s in scores]
        )
        share = self.share
        if self.adjust and len(queries) >= self.min_prompts:
            kept, share = refine_adjusted(masks, self.share, self.low, self.high, self.step)
        else:
            kept = refine(masks, self.share)
        meta = {
            "localizer": self.name,
            "options": options_of(self),
            "languages": [self.language],
            "n_queries": {self.language: len(queries)},
            "final_share": share,
        }
        return NeuronSet.from_mask(kept, torch.stack(scores).mean(0), meta)
