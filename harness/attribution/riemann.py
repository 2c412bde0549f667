"""The Riemann convention used by every integrated-gradients variant here.

**Right Riemann sum**: ``∫_0^1 f(α) dα ≈ (1/M) Σ_{k=1..M} f(k/M)``, i.e. ``α_k = k/M`` for
``k = 1..M``. The last point is the real input (``α = 1``) and the baseline itself
(``α = 0``) is never evaluated. (Dai et al.'s code uses the left sum ``k = 0..M-1``;
EleutherAI's ``linspace(0, 1, M)`` includes both ends.)
"""

from __future__ import annotations

import torch


def alphas(steps: int) -> torch.Tensor:
    """``[M]`` float32: ``α_k = k/M`` for ``k = 1..M``."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return torch.arange(1, steps + 1, dtype=torch.float32) / steps


def path_points(start: torch.Tensor, end: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Points on the straight path: ``start + α (end − start)``.

    start ``[R, N]`` (or broadcastable), end ``[N]``, alpha ``[R]`` -> ``[R, N]``.
    """
    return start + alpha[:, None] * (end - start)
