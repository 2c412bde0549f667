"""Fast path runner for causal LMs: cached prefix, one token per row.

Replacing the activation at the prompt's last position ``T-1`` cannot change anything at
earlier positions. So the prefix ``x_1 .. x_{T-1}`` is run once and its keys/values cached;
each row then runs only the *tail*: the last prompt token (plus, with ``full_object``, the
teacher-forced object tokens ``o_1 .. o_{K-1}``), attending to the cached prefix expanded
across rows. The intervention is at tail position 0 only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from harness.attribution.engine import RowGroup, activations_at, make_replacer, probability_gradients
from harness.attribution.query import EncodedQuery
from harness.attribution.scoring import log_prob_of

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


def cache_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer ``(keys, values)``, each ``[1, heads, T-1, head_dim]``."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def expanded_cache(kv: list[tuple[torch.Tensor, torch.Tensor]], rows: int) -> DynamicCache:
    """A fresh cache holding the prefix for ``rows`` rows. ``expand`` shares the prefix's
    storage; the cache materializes it once when the tail's keys are appended."""
    return DynamicCache(
        ddp_cache_data=[(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in kv]
    )


class CausalRunner:
    """See the module docstring and :class:`harness.attribution.engine.PathRunner`."""

    def __init__(self, adapter: ModelAdapter, enc: EncodedQuery) -> None:
        self.adapter = adapter
        dev = adapter.device
        ids = enc.input_ids.to(dev)
        t = enc.prompt_length
        self.tail = ids[t - 1 :]  # [K_tail]
        # the answers are predicted at tail positions 0 .. K'-1 (see `_log_prob`)
        assert enc.answer_positions.tolist() == list(range(t - 1, t - 1 + len(enc.answer_ids)))
        self.answer_ids = enc.answer_ids.to(dev)  # [K']
        with torch.no_grad():
            self.kv = None
            if t > 1:
                _, cache = adapter.forward_body(ids[None, : t - 1], use_cache=True)
                self.kv = cache_tensors(cache)
            self.base_prob = float(self._log_prob(self._tail_logits(1))[0].exp())
        self.real = activations_at(adapter, enc.input_ids, enc.target_position)  # [L, N]

    def _tail_logits(self, rows: int) -> torch.Tensor:
        """Run the tail for ``rows`` rows on the cached prefix: ``[rows, K_tail, V]``."""
        cache = None if self.kv is None else expanded_cache(self.kv, rows)
        tail = self.tail.expand(rows, -1)
        logits, _ = self.adapter.forward(tail, cache=cache, use_cache=cache is not None)
        return logits

    def _log_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """``log P(answer)`` per row ``[rows]`` from the tail logits ``[rows, K_tail, V]``
        (float32 softmax, sum over answer tokens). The answers are at tail positions
        ``0 .. K'-1``, so a slice selects them without copying."""
        rows, k = logits.shape[0], len(self.answer_ids)
        return log_prob_of(logits[:, :k], self.answer_ids.expand(rows, -1))

    def gradients(self, groups: list[RowGroup], points: list[torch.Tensor]) -> list[torch.Tensor]:
        rows = groups[-1].hi
        with torch.enable_grad(), self.adapter.patch(make_replacer(groups, points, position=0)):
            log_prob = self._log_prob(self._tail_logits(rows))  # [rows]
            return probability_gradients(log_prob, groups, points)  # ∂P/∂x
