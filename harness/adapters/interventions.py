"""Neuron interventions: overwrite chosen neurons at chosen positions (suppress / enhance).

Used by :meth:`ModelAdapter.intervene`; kept apart so the arithmetic is easy to check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

MODES = ("set", "scale")

# (neuron_idx, mode, value): see ModelAdapter.intervene
InterventionSpec = tuple[torch.Tensor | Sequence[int], str, float | torch.Tensor]
Positions = str | int | Sequence[int] | torch.Tensor | None


def make_intervention(
    spec: InterventionSpec,
    positions: Positions,
    target_positions: Callable[[], torch.Tensor],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Build ``act [B, S, N] -> act'``, which applies ``spec`` at ``positions``.

    ``target_positions()`` is called at forward time when ``positions == "target"``.
    """
    idx, mode, value = spec
    if mode not in MODES:
        raise ValueError(f"intervention mode must be one of {MODES}, got {mode!r}")
    if isinstance(positions, str) and positions != "target":
        raise ValueError(f"positions must be 'target', an int, a tensor or None, not {positions!r}")

    def apply(act: torch.Tensor) -> torch.Tensor:
        neurons = torch.as_tensor(idx, dtype=torch.long, device=act.device)
        val = torch.as_tensor(value, dtype=act.dtype, device=act.device)
        act = act.clone()
        if positions is None:  # every position
            sel = act[..., neurons]  # [B, S, k]
            act[..., neurons] = val.expand_as(sel) if mode == "set" else sel * val
            return act
        pos = target_positions() if positions == "target" else positions
        pos = torch.as_tensor(pos, dtype=torch.long, device=act.device)
        batch, seq = act.shape[0], act.shape[1]
        pos = pos.expand(batch) if pos.dim() == 0 else pos
        if pos.shape != (batch,):
            raise ValueError(f"positions must be a scalar or have shape [{batch}], got {tuple(pos.shape)}")
        pos = pos % seq  # negative positions count from the end
        rows = torch.arange(batch, device=act.device)
        cur = act[rows[:, None], pos[:, None], neurons[None, :]]  # [B, k]
        act[rows[:, None], pos[:, None], neurons[None, :]] = (
            val.expand_as(cur) if mode == "set" else cur * val
        )
        return act

    return apply
