"""The path-integral core shared by IG and SAIG (paper Eq. 4, one baseline per path).

For every layer ``l``, baseline ``b`` and step ``k`` there is one *row*: the real query
with the target-position activation of layer ``l`` replaced by the path point

    x = w'_b + α_k (w − w'_b),    α_k = k/M  (right Riemann sum, see ``riemann.py``),

and the rest of the network left to compute on the real query. A runner evaluates ``P`` for
many rows in one batched forward pass and returns ``∂P/∂x`` per row with one backward pass
for all layers (rows are independent, so the gradient of a sum over rows is each row's own
gradient; see :func:`probability_gradients`). Then

    raw_l = Σ_b (w − w'_b) ⊙ (1/M) Σ_k ∂P/∂x(w'_b + α_k (w − w'_b)).

Rows are enumerated layer-major (layer, baseline, step) and processed in chunks of at most
``max_rows``; a chunk holds a contiguous range of rows per layer (a :class:`RowGroup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from harness.attribution.riemann import alphas, path_points


@dataclass(frozen=True, eq=False)  # holds tensors: compare fields explicitly
class RowGroup:
    """The rows of one chunk that intervene at one layer: rows ``[lo, hi)`` of the chunk."""

    layer: int
    lo: int
    hi: int
    baseline: torch.Tensor  # [hi - lo] long: the baseline each row starts from
    alpha: torch.Tensor  # [hi - lo] float32: α_k of each row


class PathRunner(Protocol):
    """Evaluates ``P`` for batches of rows of one query (see ``causal.py``, ``masked.py``)."""

    real: torch.Tensor  # [L, N] float32: real activations at the target position
    base_prob: float  # P(answer) on the real query

    def gradients(self, groups: list[RowGroup], points: list[torch.Tensor]) -> list[torch.Tensor]:
        """``points[g]`` ``[n_g, N]`` float32 leaves (the activations substituted at layer
        ``groups[g].layer``); returns ``∂P_row/∂points[g]`` for each group, ``[n_g, N]``."""
        ...


def plan_chunks(n_layers: int, n_baselines: int, steps: int, max_rows: int) -> Iterator[list[RowGroup]]:
    """Split the ``L · B · M`` rows into chunks of at most ``max_rows`` rows."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    alpha = alphas(steps)
    per_layer = n_baselines * steps
    total = n_layers * per_layer
    for start in range(0, total, max_rows):
        r = torch.arange(start, min(start + max_rows, total))
        layer, baseline, step = r // per_layer, (r // steps) % n_baselines, r % steps
        groups = []
        for lay in torch.unique(layer).tolist():
            idx = (layer == lay).nonzero()[:, 0]
            lo, hi = int(idx[0]), int(idx[-1]) + 1
            groups.append(RowGroup(lay, lo, hi, baseline[lo:hi], alpha[step[lo:hi]]))
        yield groups


def integrate(runner: PathRunner, baselines: torch.Tensor, steps: int, max_rows: int) -> torch.Tensor:
    """Sum over baselines of the per-baseline integrated gradients (Eq. 4).

    baselines ``[B, L, N]`` float32 on the model's device (IG: ``B = 1``, all zeros; SAIG:
    one per query token). Returns raw attributions ``[L, N]`` float32 on CPU.
    """
    real = runner.real  # [L, N]
    n_baselines, n_layers, _ = baselines.shape
    raw = torch.zeros_like(real)
    for groups in plan_chunks(n_layers, n_baselines, steps, max_rows):
        starts, points = [], []
        for g in groups:
            start = baselines[g.baseline.to(real.device), g.layer]  # [n, N] w'_b
            starts.append(start)
            x = path_points(start, real[g.layer], g.alpha.to(real.device))  # [n, N]
            points.append(x.detach().requires_grad_(True))
        grads = runner.gradients(groups, points)
        for g, start, grad in zip(groups, starts, grads, strict=True):
            # (w − w'_b) ⊙ (1/M) Σ_k ∂P/∂x, summed over this chunk's (b, k) rows
            raw[g.layer] += ((real[g.layer] - start) * grad.float()).sum(0) / steps
    return raw.cpu()


def make_replacer(
    groups: list[RowGroup], points: list[torch.Tensor], position: int
) -> Callable[[int, torch.Tensor], torch.Tensor | None]:
    """Activation hook for ``adapter.patch``: at layer ``g.layer`` set
    ``act[g.lo:g.hi, position] := points[g]`` (cast to the model dtype; the gradient flows
    back to the float32 point). Other layers and rows are left alone."""
    by_layer = {g.layer: (g, x) for g, x in zip(groups, points, strict=True)}

    def replace(layer: int, act: torch.Tensor) -> torch.Tensor | None:  # act [R, S, N]
        if layer not in by_layer:
            return None
        g, x = by_layer[layer]
        act = act.clone()
        act[g.lo : g.hi, position] = x.to(act.dtype)
        return act

    return replace


def probability_gradients(
    log_prob: torch.Tensor, groups: list[RowGroup], points: list[torch.Tensor]
) -> list[torch.Tensor]:
    """``∂P_row/∂points`` from ``log_prob [rows]`` (log P of each row, float32).

    The gradient target is the probability ``P`` (as Dai et al.), computed as
    ``∂P/∂x = P · ∂log P/∂x``: backpropagating ``log P`` keeps the gradients at O(1)
    instead of O(P), so they do not underflow in float16 for small ``P`` (product over
    object tokens). Rows are independent, so one backward of ``Σ_rows log P`` gives every
    row's own gradient.
    """
    grads = torch.autograd.grad(log_prob.sum(), points)
    prob = log_prob.detach().exp()  # [rows]
    return [grad.float() * prob[g.lo : g.hi, None] for g, grad in zip(groups, grads, strict=True)]
