"""Fast path runner for masked LMs: reuse the states up to each row's own layer.

The real query's hidden states are computed once. Replacing the neuron activation of layer
``l`` at the target position changes nothing below block ``l``, and in block ``l`` itself it
changes only the FFN output at the target position (the attention came before the FFN, and
the FFN works position by position). So a row of layer ``l`` *starts at the output of block
``l``*: the cached real output, with the target position recomputed from the path point by
the rest of the block (``adapter.ffn_output``: BERT's ``LayerNorm(dense(x) + residual)``,
the residual recorded at the real query). Blocks then run bottom-up on a growing batch:
after block ``j`` the rows of layer ``j`` are appended, so every block runs once per chunk,
a row runs only the blocks above its own layer, and the block of its own layer costs one
position of one projection instead of a whole block over every position. In the top block
only the answer positions are read, so its FFN runs only there (``run_block(positions=)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from harness.attribution.engine import RowGroup, probability_gradients
from harness.attribution.query import EncodedQuery
from harness.attribution.scoring import log_prob_of

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


class MaskedRunner:
    """See the module docstring and :class:`harness.attribution.engine.PathRunner`."""

    def __init__(self, adapter: ModelAdapter, enc: EncodedQuery) -> None:
        self.adapter = adapter
        dev = adapter.device
        self.position = enc.target_position
        self.answer_positions = enc.answer_positions.to(dev)  # [K']
        self.answer_ids = enc.answer_ids.to(dev)  # [K']
        with torch.no_grad(), adapter.capture() as acts, adapter.capture_ffn_residuals() as residuals:
            self.states = adapter.hidden_states(enc.input_ids[None].to(dev))  # L+1 x [1, S, D]
            logits = adapter.lm_logits(self.states[-1][:, self.answer_positions])  # [1, K', V]
        layers = range(adapter.n_layers)
        self.real = torch.stack([acts[layer][0, self.position] for layer in layers]).float()  # [L, N]
        # [L, 1, D]: what each block's FFN output is added to at the target position
        self.residual = torch.stack([residuals[layer][:, self.position] for layer in layers])
        self.base_prob = float(self._log_prob(logits)[0].exp())

    def _log_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """logits ``[rows, K', V]`` at the answer positions -> ``log P(answer)`` ``[rows]``."""
        return log_prob_of(logits, self.answer_ids.expand(logits.shape[0], -1))

    def _rows_after_block(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """The output of block ``layer`` for rows whose neurons at the target position are
        ``x [n, N]``: the cached real output, the target position recomputed. ``[n, S, D]``."""
        p, out = self.position, self.states[layer + 1]  # [1, S, D]
        n = x.shape[0]
        at_target = self.adapter.ffn_output(
            layer, x.to(out.dtype)[:, None], self.residual[layer].expand(n, -1, -1)
        )  # [n, 1, D]
        return torch.cat([out[:, :p].expand(n, -1, -1), at_target, out[:, p + 1 :].expand(n, -1, -1)], 1)

    def gradients(self, groups: list[RowGroup], points: list[torch.Tensor]) -> list[torch.Tensor]:
        by_layer = {g.layer: x for g, x in zip(groups, points, strict=True)}
        hidden: torch.Tensor | None = None  # [rows so far, S, D]; after the top block [rows, K', D]
        top, answers = self.adapter.n_layers - 1, self.answer_positions
        with torch.enable_grad():
            for j in range(groups[0].layer, top + 1):
                if hidden is not None:  # the rows of the layers below go through block j
                    # the top block's FFN only at the answer positions: nothing reads the rest
                    hidden = self.adapter.run_block(j, hidden, answers if j == top else None)
                if j in by_layer:  # the rows of layer j join at its output
                    new = self._rows_after_block(j, by_layer[j])
                    new = new[:, answers] if j == top else new
                    hidden = new if hidden is None else torch.cat([hidden, new])
            assert hidden is not None  # the chunk's first group joined at its block
            logits = self.adapter.lm_logits(hidden)  # [rows, K', V]
            return probability_gradients(self._log_prob(logits), groups, points)  # ∂P/∂x
