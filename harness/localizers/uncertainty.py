"""MATRICE's uncertainty-aware aggregation (Cao et al. 2024, §III, Eq. 6–13) as pure tensor
functions. No model, no provider: tensors in, tensors out.

* **UaQ, across the T queries of a language (Eq. 6–8)**::

      s_k = α1 · E_t[A_t] − α2 · sqrt(Var_t[A_t])

  with ``A_t [L, N]`` the (per-layer normalized) SAIG scores of query ``t``.
* **Normalization (Eq. 9)**: each language's ``s_k`` is min–max normalized *over all the
  neurons of that language* (``(s − min) / (max − min)``, the min and max taken over the
  whole ``[L, N]`` matrix), so that the K languages lie on the same [0, 1] scale before
  they are compared. When ``max == min`` (nothing distinguishes any neuron) the result is
  all zeros.
* **UaL, across the K languages (Eq. 10–11)**::

      S = β1 · E_k[ŝ_k] − β2 · sqrt(Var_k[ŝ_k])

* **Dynamic threshold (Eq. 12–13)**: ``T = τ · max S``; the selected neurons are
  ``S > T``. When ``max S <= 0`` nothing is selected (a non-positive maximum means no
  neuron is consistently attributed; ``τ · max S`` would otherwise admit every neuron).

Variances are **population** variances (divide by T, resp. K; ``ddof = 0``): a single query
or language has variance 0, so the method degrades gracefully to the plain mean. Every
function computes in float64 and rejects NaN or ±inf inputs with :class:`NonFiniteError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


class NonFiniteError(ValueError):
    """An attribution tensor holds NaN or ±inf."""


def check_finite(x: torch.Tensor, what: str) -> None:
    """Raise :class:`NonFiniteError` naming ``what`` when ``x`` has NaN or ±inf."""
    if not torch.isfinite(x).all():
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise NonFiniteError(f"{what}: {n_nan} NaN and {n_inf} inf value(s) in the attribution scores")


def mean_minus_std(stack: torch.Tensor, w_mean: float, w_std: float, what: str = "scores") -> torch.Tensor:
    """``w_mean · E[x] − w_std · sqrt(Var[x])`` over dim 0 (population variance).

    stack ``[T, L, N]`` (T >= 1) -> ``[L, N]`` float64. Eq. 6–8 (queries) and 10–11
    (languages).
    """
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise ValueError(f"{what}: expected a [T>=1, L, N] stack, got shape {tuple(stack.shape)}")
    check_finite(stack, what)
    x = stack.double()
    mean = x.mean(0)
    var = ((x - mean) ** 2).mean(0)  # population variance, ddof = 0
    return w_mean * mean - w_std * var.clamp(min=0).sqrt()


def minmax(s: torch.Tensor, what: str = "scores") -> torch.Tensor:
    """Eq. 9: ``(s − min) / (max − min)`` over all entries of ``s`` (float64); all zeros
    when ``max == min``."""
    check_finite(s, what)
    s = s.double()
    lo, hi = s.min(), s.max()
    if hi <= lo:
        return torch.zeros_like(s)
    return (s - lo) / (hi - lo)


def threshold(S: torch.Tensor, tau: float) -> float:
    """Eq. 12: ``T = τ · max S``."""
    return float(tau * S.max())


def select(S: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 13: ``S > τ · max S`` as a bool mask; all False when ``max S <= 0``."""
    check_finite(S, "aggregated scores")
    if S.numel() == 0 or float(S.max()) <= 0:
        return torch.zeros(S.shape, dtype=torch.bool)
    return S > threshold(S, tau)


def uaq(
    per_query: Sequence[torch.Tensor], alpha1: float, alpha2: float, what: str = "queries"
) -> torch.Tensor:
    """Uncertainty-aware localization across queries: the ``T`` ``[L, N]`` score
    matrices of one language -> ``s_k [L, N]`` float64 (Eq. 6–8)."""
    if len(per_query) == 0:
        raise ValueError(f"{what}: at least one query is needed")
    return mean_minus_std(torch.stack([q.double() for q in per_query]), alpha1, alpha2, what)


def ual(
    per_language: Mapping[str, torch.Tensor], beta1: float, beta2: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Uncertainty-aware localization across languages: ``{lang: s_k [L, N]}`` ->
    ``(S [L, N], ŝ [K, L, N])``, both float64: min–max per language (Eq. 9), then
    Eq. 10–11."""
    if len(per_language) == 0:
        raise ValueError("languages: at least one language is needed")
    normalized = torch.stack([minmax(s, f"language {lang}") for lang, s in per_language.items()])
    return mean_minus_std(normalized, beta1, beta2, "languages"), normalized
