"""Integrated gradients with a zero baseline (Dai et al., 2022).

    IG_l(n) = w_l(n) · (1/M) Σ_{k=1..M} ∂P/∂w_l(n) at α_k w_l,   α_k = k/M,

where ``w_l`` is the real activation of layer ``l`` at the target position and ``P`` the
answer probability (not log P). Each layer is integrated separately, the others keep their
real values.
"""

from __future__ import annotations

import torch

from harness.attribution.engine import PathRunner, integrate


def zero_baselines(runner: PathRunner) -> torch.Tensor:
    """``[1, L, N]`` zeros: the single IG baseline."""
    return torch.zeros_like(runner.real)[None]


def integrated_gradients(runner: PathRunner, steps: int, max_rows: int) -> torch.Tensor:
    """Raw IG scores ``[L, N]`` float32 on CPU."""
    return integrate(runner, zero_baselines(runner), steps, max_rows)
