"""Fast path runner for causal LMs: cached prefix, one token per row, rows start at their
own layer.

Replacing the activation at the prompt's last position ``T-1`` cannot change anything at
earlier positions. So the prefix ``x_1 .. x_{T-1}`` is run once and its keys/values cached;
each row then runs only the *tail*: the last prompt token (plus, with ``full_object``, the
teacher-forced object tokens ``o_1 .. o_{K-1}``), attending to the cached prefix expanded
across rows. The intervention is at tail position 0 only.

Replacing the activation of layer ``l`` changes nothing below block ``l`` either, so a row
joins the batch only at its own block. The model runs its own forward on a batch of **one
carrier row** (the real tail, never intervened on); a forward pre-hook on block ``j``
appends the rows that intervene at ``j`` as copies of the carrier's state at that point,
which *is* the real input of block ``j``. Rows are layer-major, so at block ``j`` the batch
is ``[carrier, chunk rows 0 .. hi_j)``: chunk row ``r`` sits at batch index ``1 + r``, and
block ``j``'s key/value cache holds the prefix for exactly that many rows. Masks and
position embeddings are built by the model for one row and broadcast; what does not
broadcast (BLOOM's ALiBi bias) the adapter resizes (``block_inputs_for_rows``). Only the
rows' blocks at and above their layer run, as in the masked runner: at mGPT's 24 layers
that is about half the body's work of running every row through every block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from harness.attribution.engine import RowGroup, make_replacer, probability_gradients
from harness.attribution.prefix_attention import attending_to_prefix
from harness.attribution.query import EncodedQuery
from harness.attribution.scoring import log_prob_of

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


def cache_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer ``(keys, values)``, each ``[1, heads, T-1, head_dim]``."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def expanded_cache(kv: list[tuple[torch.Tensor, torch.Tensor]], rows: int | list[int]) -> DynamicCache:
    """A fresh cache holding the prefix for ``rows`` rows (one count, or one per layer).
    ``expand`` shares the prefix's storage; the cache materializes it once when the tail's
    keys are appended."""
    per_layer = [rows] * len(kv) if isinstance(rows, int) else rows
    return DynamicCache(
        ddp_cache_data=[
            (k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1))
            for (k, v), n in zip(kv, per_layer, strict=True)
        ]
    )


class CausalRunner:
    """See the module docstring and :class:`harness.attribution.engine.PathRunner`.

    ``real`` and ``base_prob`` need the real activations, which SAIG and AMIG also read off
    the baseline passes' twin: pass ``real`` (from :func:`harness.attribution.baselines`)
    to skip that pass here.
    """

    def __init__(self, adapter: ModelAdapter, enc: EncodedQuery, real: torch.Tensor | None = None) -> None:
        from harness.attribution.baselines import real_activations

        self.adapter = adapter
        dev = adapter.device
        ids = enc.input_ids.to(dev)
        t = enc.prompt_length
        self.tail = ids[t - 1 :]  # [K_tail]
        # the answers are predicted at tail positions 0 .. K'-1 (see `_log_prob`)
        assert enc.answer_positions.tolist() == list(range(t - 1, t - 1 + len(enc.answer_ids)))
        self.answer_ids = enc.answer_ids.to(dev)  # [K']
        # A sliding-window cache (Mistral, Gemma 2) keeps only the window's last keys, and
        # neither path here masks by window: refuse an input longer than the window (4096
        # tokens and more in the released models) rather than attribute it wrongly.
        window = getattr(adapter.model.config, "sliding_window", None)
        if window and len(ids) > window:
            raise ValueError(
                f"the query has {len(ids)} tokens, more than {adapter.model_type}'s sliding attention "
                f"window ({window}), which the causal attribution engine does not implement"
            )
        self.shared_prefix = adapter.prefix_attention  # one copy of the prefix for all rows
        with torch.no_grad():
            self.kv = None
            if t > 1:
                _, cache = adapter.forward_body(ids[None, : t - 1], use_cache=True)
                self.kv = cache_tensors(cache)
            self.base_prob = float(self._log_prob(self._tail_logits([1] * adapter.n_layers))[0].exp())
        self.real = real_activations(adapter, enc) if real is None else real  # [L, N]

    def _tail_logits(self, rows_per_layer: list[int], skip: int = 0) -> torch.Tensor:
        """Run the tail (one carrier row) on the cached prefix; the LM head only on the
        answer positions of the rows from ``skip`` on: ``[rows at the top - skip, K', V]``.
        (Slicing the hidden state rather than the logits keeps a vocabulary-wide zero-fill
        out of the backward.) Families whose attention goes through transformers' interface
        attend to the one shared copy of the prefix (``prefix_attention.py``); the others
        get a cache whose block ``j`` holds the prefix for ``rows_per_layer[j]`` rows."""
        body = self.adapter.forward_body
        if self.kv is None:
            hidden, _ = body(self.tail[None])
        elif self.shared_prefix:
            with attending_to_prefix(self.adapter.model, self.kv) as cache:
                hidden, _ = body(self.tail[None], cache=cache, use_cache=True)
            cache.check_calls(self.adapter.model)
        else:
            hidden, _ = body(self.tail[None], cache=expanded_cache(self.kv, rows_per_layer), use_cache=True)
        return self.adapter.lm_logits(hidden[skip:, : len(self.answer_ids)])

    def _log_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """``log P(answer)`` per row ``[rows]`` from the logits at the answer positions
        ``[rows, K', V]`` (float32 softmax, sum over answer tokens)."""
        return log_prob_of(logits, self.answer_ids.expand(logits.shape[0], -1))

    @contextmanager
    def _rows_join(self, groups: list[RowGroup]) -> Iterator[list[int]]:
        """Pre-hooks that append each group's rows at its own block (copies of the carrier
        row 0) and fit the block's other inputs to the batch. Yields the batch size at
        every block."""
        adapter, joins = self.adapter, {g.layer: g for g in groups}
        sizes, size = [], 1
        for j in range(adapter.n_layers):
            if j in joins:
                size = 1 + joins[j].hi
            sizes.append(size)

        def join(args: tuple, kwargs: dict, layer: int) -> tuple[tuple, dict]:
            hidden = args[0] if args else kwargs["hidden_states"]
            g = joins.get(layer)
            if g is not None:
                assert hidden.shape[0] == 1 + g.lo, "rows must join in layer order"
                hidden = torch.cat([hidden, hidden[:1].expand(g.hi - g.lo, -1, -1)])
            rest, kwargs = adapter.block_inputs_for_rows(args[1:], kwargs, sizes[layer])
            if args:
                return (hidden, *rest), kwargs
            return rest, {**kwargs, "hidden_states": hidden}

        blocks = adapter.blocks()
        handles = [
            blocks[layer].register_forward_pre_hook(
                lambda _m, a, k, layer=layer: join(a, k, layer), with_kwargs=True
            )
            for layer in range(groups[0].layer, adapter.n_layers)
        ]
        try:
            yield sizes
        finally:
            for h in handles:
                h.remove()

    def gradients(self, groups: list[RowGroup], points: list[torch.Tensor]) -> list[torch.Tensor]:
        # chunk row r is at batch index 1 + r (index 0 is the carrier)
        shifted = [RowGroup(g.layer, 1 + g.lo, 1 + g.hi, g.baseline, g.alpha) for g in groups]
        with (
            torch.enable_grad(),
            self._rows_join(groups) as sizes,
            self.adapter.patch(make_replacer(shifted, points, position=0)),
            self.adapter.fused_activations(),
        ):
            log_prob = self._log_prob(self._tail_logits(sizes, skip=1))  # [rows], carrier dropped
            return probability_gradients(log_prob, groups, points)  # ∂P/∂x
