"""Per-layer normalization of attribution scores (MATRICE, paper Eq. 5).

``score_l(n) = a_l(n) / Σ_{n'} |a_l(n')|``: each layer's scores are divided by that layer's
sum of absolute scores, so every layer sums to 1 in absolute value and signs are kept.

A layer whose sum is ~0 gets all-zero scores, rather than noise blown up by the division.
"~0" is relative to the largest layer (``Σ|a_l| <= eps · max_l' Σ|a_l'|``, default
``eps = 1e-6``, about float32's resolution; or exactly 0). Raw scores scale with the
answer's probability, which for a whole multi-token object can be 1e-11 or less, so an
absolute threshold would wipe out every layer of such an answer; a relative one makes the
result independent of that scale.
"""

from __future__ import annotations

import torch

DEFAULT_EPS = 1e-6  # a layer is "~0" below this fraction of the largest layer's Σ|a|


def normalize_per_layer(raw: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """``raw [L, N]`` -> ``[L, N]`` float32, each layer divided by its sum of |scores|."""
    raw = raw.float()
    total = raw.abs().sum(-1, keepdim=True)  # [L, 1]
    dead = (total == 0) | (total <= eps * total.max())
    return torch.where(dead, torch.zeros_like(raw), raw / torch.where(dead, 1.0, total))
