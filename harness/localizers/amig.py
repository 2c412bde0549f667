"""AMIG (Chen et al., AAAI 2024, "Journey to the Center of the Knowledge Neurons"): the
language-independent knowledge neurons baseline.

**Scoring** (:func:`amig_attribution`, provider method ``"amig"``), faithful to the
reference code (``knowledge_neurons/garns.py``, see ``shared/REFERENCES.md``):

* the *adapted baseline*: for each query token, the token is replaced by eos (causal) or
  the mask token (masked) and the target-position activation read (the engine's SAIG
  baselines); the path points ``b_p + (w − b_p)·i/M`` are averaged over the token
  positions, which is the straight path from the mean baseline ``b̄``;
* a **left** Riemann sum, ``α_i = i/M`` for ``i = 0..M−1``;
* the gradient of ``P(answer)`` is scaled by ``w / M`` (the real activation), **not** by
  ``(w − b̄) / M``: AMIG's score is ``w ⊙ (1/M) Σ_i ∂P/∂x(b̄ + (i/M)(w − b̄))``, which is
  not exact IG (the attributions do not sum to ``P(w) − P(b̄)``). We reproduce it as is.
* Raw scores (no per-layer normalization), as in AMIG.

Differences that remain: the token positions are the query's own tokens (no BOS/[CLS]/
[SEP]), and multi-token objects use the gold tokens (``full_object``) where AMIG extends the
prompt with the model's argmax.

**Selection**: coarse neurons per query ``score > threshold · max`` (0.3); per language
the union over its queries (``share = 0``; ``share = p`` keeps neurons in at least a share
``p`` of the queries); then the intersection across languages (AMIG's en ∩ zh, here every
language of the fact unless ``languages`` restricts it). ``method="saig"`` swaps in the
engine's raw SAIG sums (exact IG per baseline) for the AMIG score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch

from harness.localizers.base import AttributionProvider, Fact, NeuronSet, options_of
from harness.localizers.selection import coarse, min_count, refine
from harness.registry import register

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter
    from harness.attribution.query import ClozeQuery, EncodedQuery


def adapted_baselines(adapter: ModelAdapter, enc: EncodedQuery) -> torch.Tensor:
    """``[T', L, N]`` float32: for each query token, the target-position activations of
    the sentence with that token replaced by eos (causal) or the mask token (masked): the
    engine's SAIG baselines, from the same (shared, memoized) body passes."""
    from harness.attribution.baselines import baseline_activations

    return baseline_activations(adapter, enc)


def amig_attribution(
    adapter: ModelAdapter,
    query: ClozeQuery | EncodedQuery,
    steps: int = 20,
    full_object: bool = False,
    max_rows: int = 256,
) -> tuple[torch.Tensor, float]:
    """AMIG's adapted-baseline score of every neuron: ``(raw [L, N] float32 CPU, P(answer))``.

    Uses the engine's path runners (``PathRunner``: batched forward, one backward per chunk
    of at most ``max_rows`` (layer, step) rows); see the module docstring for the formula.
    """
    from harness.attribution.causal import CausalRunner
    from harness.attribution.engine import RowGroup
    from harness.attribution.masked import MaskedRunner
    from harness.attribution.query import as_encoded

    if steps < 1 or max_rows < 1:
        raise ValueError(f"steps and max_rows must be >= 1, got {steps}, {max_rows}")
    enc = as_encoded(adapter, query, full_object)
    runner = CausalRunner(adapter, enc) if adapter.is_causal else MaskedRunner(adapter, enc)
    real = runner.real  # [L, N]
    mean_baseline = adapted_baselines(adapter, enc).mean(0).to(real.device)  # [L, N]: b̄
    alphas = torch.arange(steps, dtype=torch.float32) / steps  # left Riemann sum: i/M, i = 0..M-1
    rows = [(layer, i) for layer in range(real.shape[0]) for i in range(steps)]
    scores = torch.zeros_like(real)
    for start in range(0, len(rows), max_rows):
        chunk = rows[start : start + max_rows]
        groups, points, lo = [], [], 0
        for layer in dict.fromkeys(lay for lay, _ in chunk):
            alpha = alphas[[i for lay, i in chunk if lay == layer]]
            groups.append(
                RowGroup(layer, lo, lo + len(alpha), torch.zeros(len(alpha), dtype=torch.long), alpha)
            )
            lo += len(alpha)
            b = mean_baseline[layer]
            x = b + alpha.to(real.device)[:, None] * (real[layer] - b)  # [n, N] path points
            points.append(x.detach().requires_grad_(True))
        for g, grad in zip(groups, runner.gradients(groups, points), strict=True):
            scores[g.layer] += real[g.layer] * grad.float().sum(0) / steps  # w ⊙ grad / M
    return scores.cpu(), runner.base_prob


@register("localizer", "amig")
@dataclass(frozen=True)
class Amig:
    """AMIG: adapted-baseline IG, union over queries, intersection over languages."""

    threshold: float = 0.3  # coarse neurons: score > threshold · max, per query
    share: float = 0.0  # keep a neuron in >= share of a language's queries (0: union, as AMIG)
    steps: int | None = None  # M; None: the provider's default
    languages: tuple[str, ...] | None = None  # None: every language with queries
    method: str = "amig"  # provider method: "amig" (faithful) or "saig" (exact IG per baseline)

    name: ClassVar[str] = "amig"

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"amig: threshold must be in [0, 1], got {self.threshold}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"amig: share must be in [0, 1], got {self.share}")

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        mask: torch.Tensor | None = None
        total: torch.Tensor | None = None
        n_total = 0
        per_language: dict[str, int] = {}
        for lang, queries in fact.select(self.languages).items():
            scores = [provider.attribute(q, self.method, steps=self.steps, normalized=False) for q in queries]
            coarse_masks = torch.stack(
                [coarse(s, self.threshold, strict=True, what=f"fact {fact.uuid}, {lang}") for s in scores]
            )
            kept = refine(coarse_masks, self.share)
            per_language[lang] = int(kept.sum())
            mask = kept if mask is None else mask & kept
            summed = torch.stack(scores).sum(0)
            total = summed if total is None else total + summed
            n_total += len(scores)
        assert mask is not None and total is not None
        meta = {
            "localizer": self.name,
            "options": options_of(self),
            "languages": list(per_language),
            "per_language_selected": per_language,
            "min_count": {
                lang: min_count(self.share, len(qs)) for lang, qs in fact.select(self.languages).items()
            },
        }
        return NeuronSet.from_mask(mask, total / n_total, meta)

    def score_map(self, fact: Fact, provider: AttributionProvider) -> torch.Tensor:
        """``[L, N]``: per language the best share of a query's max (``score / max``) over
        its queries, then the lowest over languages. With ``share = 0`` a neuron is selected
        iff this exceeds ``threshold``, so fixed-k budgets extend AMIG's own selection."""
        worst: torch.Tensor | None = None
        for queries in fact.select(self.languages).values():
            best = (
                torch.stack(
                    [
                        s / s.max() if float(s.max()) > 0 else torch.full_like(s, float("-inf"))
                        for s in (
                            provider.attribute(q, self.method, steps=self.steps, normalized=False)
                            for q in queries
                        )
                    ]
                )
                .max(0)
                .values
            )
            worst = best if worst is None else torch.minimum(worst, best)
        assert worst is not None
        return worst.float()
