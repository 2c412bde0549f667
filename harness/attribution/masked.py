"""Fast path runner for masked LMs: reuse the states below each layer.

The real query's hidden states are computed once. Replacing the activation of layer ``l``
changes nothing below layer ``l``, so a row that intervenes at layer ``l`` starts from the
cached input of block ``l``. Blocks run bottom-up on a growing batch: before block ``j`` the
rows that intervene at ``j`` are appended (copies of the cached state), so every block runs
once per chunk and each row only runs the blocks at and above its own layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from harness.attribution.engine import RowGroup, make_replacer, probability_gradients
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
        with torch.no_grad(), adapter.capture() as acts:
            self.states = adapter.hidden_states(enc.input_ids[None].to(dev))  # L+1 x [1, S, D]
            logits = adapter.lm_logits(self.states[-1][:, self.answer_positions])  # [1, K', V]
        self.real = torch.stack(
            [acts[layer][0, self.position] for layer in range(adapter.n_layers)]
        ).float()  # [L, N]
        self.base_prob = float(self._log_prob(logits)[0].exp())

    def _log_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """logits ``[rows, K', V]`` at the answer positions -> ``log P(answer)`` ``[rows]``."""
        return log_prob_of(logits, self.answer_ids.expand(logits.shape[0], -1))

    def gradients(self, groups: list[RowGroup], points: list[torch.Tensor]) -> list[torch.Tensor]:
        sizes = {g.layer: g.hi - g.lo for g in groups}
        replace = make_replacer(groups, points, self.position)
        hidden: torch.Tensor | None = None  # [rows so far, S, D]
        with torch.enable_grad(), self.adapter.patch(replace):
            for j in range(groups[0].layer, self.adapter.n_layers):
                if j in sizes:  # rows intervening at block j join here, from its cached input
                    new = self.states[j].expand(sizes[j], -1, -1)
                    hidden = new if hidden is None else torch.cat([hidden, new])
                assert hidden is not None  # the rows of the lowest layer start at its block
                hidden = self.adapter.run_block(j, hidden)
            assert hidden is not None
            logits = self.adapter.lm_logits(hidden[:, self.answer_positions])  # [rows, K', V]
            return probability_gradients(self._log_prob(logits), groups, points)  # ∂P/∂x
