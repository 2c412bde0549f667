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

from typing import TYPE_CHECKING

import torch

from harness.attribution.baselines import baseline_activations
from harness.attribution.engine import PathRunner, integrate
from harness.attribution.query import EncodedQuery

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


def saig_baselines(adapter: ModelAdapter, enc: EncodedQuery) -> torch.Tensor:
    """``[T', L, N]`` float32: activations at the target position of every layer in the
    baseline sentences, one per query token (shared with AMIG and memoized; see
    ``baselines.py``, which also says why the sentences are not batched)."""
    return baseline_activations(adapter, enc)


def sequential_adapted_ig(
    adapter: ModelAdapter, enc: EncodedQuery, runner: PathRunner, steps: int, max_rows: int
) -> tuple[torch.Tensor, int]:
    """Raw SAIG scores ``[L, N]`` float32 on CPU, and the number of baselines ``T'``."""
    baselines = saig_baselines(adapter, enc)
    return integrate(runner, baselines, steps, max_rows), baselines.shape[0]
