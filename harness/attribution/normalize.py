"""Per-layer normalization of attribution scores (MATRICE, paper Eq. 5).

``score_l(n) = a_l(n) / Σ_{n'} |a_l(n')|``: each layer's scores are divided by that layer's
sum of absolute scores, so every layer sums to 1 in absolute value and signs are kept. When
a layer's sum is ~0 (``Σ|a| <= eps · N``, default ``eps = 1e-12``; or exactly 0) nothing in
that layer is attributed and its scores are all 0, rather than noise blown up by the
division.
"""

from __future__ import annotations

import torch

DEFAULT_EPS = 1e-12  # per neuron: a layer is "~0" when mean |a| <= eps


def normalize_per_layer(raw: torch.Tensor, eps: float = DEFAULT_EPS) -> torch.Tensor:
    """``raw [L, N]`` -> ``[L, N]`` float32, each layer divided by its sum of |scores|."""
    raw = raw.float()
    total = raw.abs().sum(-1, keepdim=True)  # [L, 1]
    dead = total <= eps * raw.shape[-1]
    return torch.where(dead, torch.zeros_like(raw), raw / torch.where(dead, 1.0, total))
