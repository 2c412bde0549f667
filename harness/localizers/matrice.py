"""MATRICE (Cao et al. 2024, §III, Algorithm 1) and its Table II ablations.

For each language ``k`` with queries ``q_1 .. q_T``: SAIG scores ``A_t [L, N]`` (per-layer
normalized, Eq. 2–5, from the provider); UaQ ``s_k = α1·E_t[A_t] − α2·sqrt(Var_t[A_t])``
(Eq. 6–8). Across languages: min–max normalize each ``s_k`` over all its neurons (Eq. 9),
UaL ``S = β1·E_k[ŝ_k] − β2·sqrt(Var_k[ŝ_k])`` (Eq. 10–11), select ``S > τ·max S``
(Eq. 12–13). The math lives in :mod:`harness.localizers.uncertainty`.

**Defaults** (the paper gives no values for α1, α2, β1, β2, τ):

* ``α1 = α2 = β1 = β2 = 1``: score = mean minus one (population) standard deviation, a
  one-sigma lower bound on the attribution. A neuron must be high *and* stable to score
  well; a neuron that is high in 1 of T queries scores ``(1 − sqrt(T−1))/T · a <= 0``.
* ``τ = 0.3``, the coarse threshold of AMIG (Dai et al. use 0.2), applied to S after the
  clipping below. Measured on the embedded tiny-gpt (2 known facts, 7 languages): τ = 0.3
  selects 7–13 neurons per fact, 0.5 selects 4–5 and 0.7 one. Without the clipping,
  min–max maps a zero attribution to the *background* level ``−min/(max − min)`` (0.4–0.55
  there) and τ would have to sit above it; each run's ``meta["background"]`` reports it.
* ``steps = None``: the provider's ``M`` (20, as in Dai et al. and the engine).
* ``positive_only = True`` (our addition, not in the paper): negative UaQ scores are
  clipped to 0 before Eq. 9, so a zero score maps to 0 instead of the background level,
  and a neuron is eligible only when its mean UaQ score over languages is > 0, i.e. it
  raises the answer probability on average. Knowledge neurons are positive by definition
  (the baselines' ``score > c · max`` thresholds imply it). Without the clipping, on the
  embedded tiny-gpt the background sat at 0.4–0.55 of a max S of 0.5–0.66 and τ = 0.7
  selected ~320–510 of 2,048 neurons per fact; with it, the threshold separates the few
  consistently positive neurons. ``positive_only=False`` is the paper's Algorithm 1
  verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from harness.localizers.base import AttributionProvider, Fact, NeuronSet, options_of
from harness.localizers.uncertainty import minmax, select, threshold, ual, uaq
from harness.registry import register


def _background(s: torch.Tensor) -> float:
    """Where a zero score lands after min–max (Eq. 9), clipped to [0, 1]."""
    lo, hi = float(s.min()), float(s.max())
    return 0.0 if hi <= lo else min(1.0, max(0.0, -lo / (hi - lo)))


@dataclass(frozen=True)
class _MatriceOptions:
    alpha1: float = 1.0  # α1: weight of the mean over queries (Eq. 8)
    alpha2: float = 1.0  # α2: weight of the std over queries (Eq. 8)
    beta1: float = 1.0  # β1: weight of the mean over languages (Eq. 11)
    beta2: float = 1.0  # β2: weight of the std over languages (Eq. 11)
    tau: float = 0.3  # τ: dynamic threshold T = τ · max S (Eq. 12)
    steps: int | None = None  # M, Riemann steps of SAIG; None: the provider's default
    languages: tuple[str, ...] | None = None  # restrict to these; None: all with queries
    positive_only: bool = True  # eligible only if the mean UaQ score over languages > 0
    method: str = "saig"  # attribution method asked of the provider

    name: ClassVar[str] = "matrice"

    def __post_init__(self) -> None:
        for k in ("alpha1", "alpha2", "beta1", "beta2"):
            if getattr(self, k) < 0:
                raise ValueError(f"{self.name}: {k} must be >= 0, got {getattr(self, k)}")
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"{self.name}: tau must be in [0, 1], got {self.tau}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"{self.name}: steps must be >= 1, got {self.steps}")
        if self.languages is not None:  # an unknown code would leave the localizer empty
            from rml_lama import check_languages

            check_languages(list(self.languages), option=f"{self.name}.languages")

    def language_scores(
        self, fact: Fact, provider: AttributionProvider, first_only: bool = False
    ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """UaQ per language: ``{lang: s_k [L, N] float64}`` and the queries used per language."""
        out, used = {}, {}
        for lang, queries in fact.select(self.languages).items():
            qs = queries[:1] if first_only else queries
            scores = [provider.attribute(q, self.method, steps=self.steps) for q in qs]
            s_k = uaq(scores, self.alpha1, self.alpha2, what=f"fact {fact.uuid}, {lang} queries")
            out[lang] = s_k.clamp(min=0) if self.positive_only else s_k
            used[lang] = len(qs)
        return out, used

    def _meta(self, per_lang: Mapping[str, torch.Tensor], used: Mapping[str, int], **extra: Any) -> dict:
        return {
            "localizer": self.name,
            "options": options_of(self),
            "languages": list(per_lang),
            "n_queries": dict(used),
            "background": {lang: _background(s) for lang, s in per_lang.items()},
            **extra,
        }


def cross_language(
    per_lang: Mapping[str, torch.Tensor], beta1: float, beta2: float, tau: float, positive_only: bool
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Eq. 9–13 on ``{lang: s_k [L, N]}``: ``(mask [L, N] bool, S [L, N] float64, T)``."""
    S, _ = ual(per_lang, beta1, beta2)
    mask = select(S, tau)
    if positive_only:
        mask &= torch.stack(list(per_lang.values())).mean(0) > 0
    return mask, S, threshold(S, tau)


def ranked(
    per_lang: Mapping[str, torch.Tensor], beta1: float, beta2: float, positive_only: bool
) -> torch.Tensor:
    """``S`` (Eq. 11) as a ranking: with ``positive_only`` the ineligible neurons (mean UaQ
    score <= 0) rank last (−inf), so the selection ``S > τ · max S`` is its top."""
    S, _ = ual(per_lang, beta1, beta2)
    if positive_only:
        S = S.masked_fill(~(torch.stack(list(per_lang.values())).mean(0) > 0), float("-inf"))
    return S.float()


@register("localizer", "matrice")
@dataclass(frozen=True)
class Matrice(_MatriceOptions):
    """MATRICE: SAIG + uncertainty across queries and languages + dynamic threshold."""

    name: ClassVar[str] = "matrice"

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        per_lang, used = self.language_scores(fact, provider)
        mask, S, T = cross_language(per_lang, self.beta1, self.beta2, self.tau, self.positive_only)
        meta = self._meta(per_lang, used, threshold=T, max_score=float(S.max()))
        return NeuronSet.from_mask(mask, S, meta)

    def score_map(self, fact: Fact, provider: AttributionProvider) -> torch.Tensor:
        """``[L, N]``: the ranking behind the selection (fixed-k budgets take its top k)."""
        return ranked(self.language_scores(fact, provider)[0], self.beta1, self.beta2, self.positive_only)


@register("localizer", "matrice-no-uaq")
@dataclass(frozen=True)
class MatriceNoUaQ(_MatriceOptions):
    """MATRICE without uncertainty across queries: only each language's first query."""

    name: ClassVar[str] = "matrice-no-uaq"

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        per_lang, used = self.language_scores(fact, provider, first_only=True)
        mask, S, T = cross_language(per_lang, self.beta1, self.beta2, self.tau, self.positive_only)
        meta = self._meta(per_lang, used, threshold=T, max_score=float(S.max()))
        return NeuronSet.from_mask(mask, S, meta)

    def score_map(self, fact: Fact, provider: AttributionProvider) -> torch.Tensor:
        per_lang = self.language_scores(fact, provider, first_only=True)[0]
        return ranked(per_lang, self.beta1, self.beta2, self.positive_only)


@register("localizer", "matrice-no-ual")
@dataclass(frozen=True)
class MatriceNoUaL(_MatriceOptions):
    """MATRICE without uncertainty across languages: per-language selections, intersected.

    Each language keeps its UaQ score ``s_k`` and the same normalization and threshold as
    the full method (``ŝ_k > τ · max ŝ_k``, with ``positive_only``: ``s_k > 0``); a
    neuron is selected when every language selects it. β1, β2 are unused. Scores are the
    mean of ``ŝ_k`` over languages.
    """

    name: ClassVar[str] = "matrice-no-ual"

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        per_lang, used = self.language_scores(fact, provider)
        normalized = {lang: minmax(s, f"language {lang}") for lang, s in per_lang.items()}
        mask = torch.ones(next(iter(per_lang.values())).shape, dtype=torch.bool)
        counts = {}
        for lang, sn in normalized.items():
            chosen = select(sn, self.tau)
            if self.positive_only:
                chosen &= per_lang[lang] > 0
            counts[lang] = int(chosen.sum())
            mask &= chosen
        score = torch.stack(list(normalized.values())).mean(0)
        meta = self._meta(per_lang, used, threshold=self.tau, per_language_selected=counts)
        return NeuronSet.from_mask(mask, score, meta)

    def score_map(self, fact: Fact, provider: AttributionProvider) -> torch.Tensor:
        """The lowest normalized score over languages (ineligible neurons −inf): a neuron
        is selected iff it clears τ in every language, so the selection is a prefix of
        this ranking up to ties at each language's max."""
        per_lang = self.language_scores(fact, provider)[0]
        worst = torch.stack([minmax(s, f"language {lang}") for lang, s in per_lang.items()]).min(0).values
        if self.positive_only:
            eligible = torch.stack([s > 0 for s in per_lang.values()]).all(0)
            worst = worst.masked_fill(~eligible, float("-inf"))
        return worst.float()
