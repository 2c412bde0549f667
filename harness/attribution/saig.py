"""Sequential Adapted Integrated Gradients (SAIG; MATRICE, Cao et al. 2024, Eq. 2–4).

For each token ``x_i`` of the query (its own tokens: no special tokens such as BOS/[CLS]/
[SEP], and for masked models no [MASK] slots), the baseline sentence replaces ``x_i`` by
⟨PAD⟩ (the mask token for masked models, eos for causal ones). The activation of layer
``l`` at the target position in that sentence is the baseline ``w'_i`` (Eq. 2–3). Each
baseline is integrated to the real activation ``w`` with the rest of the network on the real
query, and the per-baseline attributions are summed (Eq. 4):

    a_l(n) = Σ_i (w − w'_i) ⊙ (1/M) Σ_{k=1..M} ∂P/∂w at w'_i + (k/M)(w − w'_i).

Per-layer normalization (Eq. 5) is applied by the API (``normalize.py``).
"""

from __future__ import annotations

from typing import Any

import torch

from harness.attribution.engine import PathRunner, integrate
from harness.attribution.query import EncodedQuery


@torch.no_grad()
def saig_baselines(adapter: Any, enc: EncodedQuery) -> torch.Tensor:
    """``[T', L, N]`` float32: activations at the target position of every layer in the
    baseline sentences, one per query token.

    One forward pass per baseline sentence gives its baseline at every layer at once. The
    sentences are deliberately *not* stacked into one batch: a batched matmul rounds
    differently (~3e-7 here), and ``w − w'_i`` is small when token ``i`` barely moves the
    target activation, so the rounding shows up as ~1e-5 relative noise in the scores and
    would make them depend on the batch size. The ``T'`` short passes cost about 1% of the
    ``L · T' · M`` integration rows.
    """
    if len(enc.token_positions) == 0:
        raise ValueError("SAIG needs at least one non-special query token")
    # Causal: tokens after the target position cannot affect it, so the prompt suffices.
    ids = enc.input_ids[: enc.prompt_length] if enc.is_causal else enc.input_ids
    out = []
    for pos in enc.token_positions.tolist():
        sentence = ids.clone()
        sentence[pos] = adapter.baseline_token_id  # x_i -> <PAD>
        with adapter.capture() as acts:
            adapter.forward_body(sentence[None].to(adapter.device))  # no LM head needed
        out.append(torch.stack([acts[layer][0, enc.target_position] for layer in range(adapter.n_layers)]))
    return torch.stack(out).float()  # [T', L, N]


def sequential_adapted_ig(
    adapter: Any, enc: EncodedQuery, runner: PathRunner, steps: int, max_rows: int
) -> tuple[torch.Tensor, int]:
    """Raw SAIG scores ``[L, N]`` float32 on CPU, and the number of baselines ``T'``."""
    baselines = saig_baselines(adapter, enc)
    return integrate(runner, baselines, steps, max_rows), baselines.shape[0]
