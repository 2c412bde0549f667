"""Attention of the causal runner's rows on the shared prompt prefix, without copying it.

Every row of :class:`harness.attribution.causal.CausalRunner` attends to the same cached
prefix ``x_1 .. x_{T-1}`` and adds only its own tail (the last prompt token, plus the
teacher-forced object tokens with ``full_object``). A KV cache concatenates the prefix to
every row's keys and values, i.e. copies it once per row, block and chunk, and sends one
query per row through the generic attention kernel, whose backward then also computes
gradients for those copies (about a quarter of the engine's CPU profile at T = 10).

Here the prefix stays one ``[1, H_kv, P, d]`` tensor per block:

    s_pre  = q · K_pre^T    one matmul per key/value head, all rows' queries stacked
    s_tail = q · k_tail^T   per row, causal within the tail
    p      = softmax([s_pre, s_tail] · scale)   (Gemma 2: soft-capped first), float32
    out    = p_pre · V_pre + p_tail · v_tail

which is exactly what eager attention computes on the concatenated keys (a test checks it
against the model's own attention). The prefix is a constant, so autograd does nothing for it.

It plugs into transformers' attention interface under the name ``"rml_prefix"``: a
:class:`PrefixCache` reports the prefix length (so positions come out right) but hands each
block only its tail's own keys and values, and :func:`prefix_attention_forward` reads the
prefix from the cache that :func:`attending_to_prefix` made active. Only families whose
attention goes through the interface can use it (``ModelAdapter.prefix_attention``); the
context manager checks that every block called it, so a family that bypasses the interface
fails loudly instead of attending to its tail alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from transformers import AttentionInterface, DynamicCache

NAME = "rml_prefix"


class PrefixCache(DynamicCache):
    """The prompt prefix's keys and values, ``[1, H_kv, P, d]`` per block, shared by every
    row. :meth:`update` stores nothing and returns the tail's own keys and values: the
    attention function adds the prefix itself (see the module docstring)."""

    def __init__(self, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__(ddp_cache_data=kv)  # get_seq_length() = P: positions start after it
        self.prefix = kv
        self.calls = 0  # attention calls, checked by `attending_to_prefix`

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return key_states, value_states

    def check_calls(self, model: Any) -> None:
        """Raise unless every block's attention went through :func:`prefix_attention_forward`
        exactly once (one forward pass): a block that bypassed it attended to its tail only."""
        if self.calls != len(self.prefix):
            raise RuntimeError(
                f"{type(model).__name__}: {self.calls} calls to attention {NAME!r} for {len(self.prefix)} "
                "blocks; its attention does not go through transformers' attention interface"
            )
        self.calls = 0


_ACTIVE: ContextVar[PrefixCache | None] = ContextVar("rml_prefix_cache", default=None)


def prefix_attention_forward(
    module: Any,  # a transformers attention module: its `layer_idx` names the block
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    softcap: float | None = None,
    sliding_window: int | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-interface signature. ``query [R, H, K, d]``, ``key`` and
    ``value`` ``[R, H_kv, K, d]`` (the tail only); returns ``[R, K, H, d]``. The mask is
    ignored: none is built for this implementation, and the pattern is known (the whole
    prefix, causal within the tail, no padding)."""
    cache = _ACTIVE.get()
    if cache is None:
        raise RuntimeError(f"attention {NAME!r} runs only inside attending_to_prefix()")
    for name in ("position_bias", "s_aux", "sinks"):  # attention features not implemented here
        if kwargs.get(name) is not None:
            raise NotImplementedError(f"attention {NAME!r} does not implement {name!r}")
    if dropout:
        raise NotImplementedError(f"attention {NAME!r} has no dropout (the model must be in eval mode)")
    k_pre, v_pre = cache.prefix[module.layer_idx]  # [1, H_kv, P, d]
    rows, heads, k_len, dim = query.shape
    kv_heads, p_len = k_pre.shape[1], k_pre.shape[2]
    if sliding_window is not None and p_len + k_len > sliding_window:
        raise NotImplementedError(f"sliding window {sliding_window} < input length {p_len + k_len}")
    groups = heads // kv_heads  # grouped-query attention: query heads per key/value head
    scale = dim**-0.5 if scaling is None else scaling
    q = query.unflatten(1, (kv_heads, groups))  # [R, H_kv, g, K, d]

    def stacked(x: torch.Tensor) -> torch.Tensor:  # [R, H_kv, g, K, n] -> [H_kv, R·g·K, n]
        return x.transpose(0, 1).reshape(kv_heads, rows * groups * k_len, x.shape[-1])

    def unstacked(x: torch.Tensor) -> torch.Tensor:  # the inverse
        return x.view(kv_heads, rows, groups, k_len, x.shape[-1]).transpose(0, 1)

    s_pre = unstacked(torch.matmul(stacked(q), k_pre[0].transpose(1, 2)))  # [R, H_kv, g, K, P]
    k_tail, v_tail = key.unsqueeze(2), value.unsqueeze(2)  # [R, H_kv, 1, K, d]
    if k_len == 1:  # one query per row: a dot product, not R·H matmuls of 1×d by d×1
        s_tail = (q * k_tail).sum(-1, keepdim=True)  # [R, H_kv, g, 1, 1]
    else:
        s_tail = torch.matmul(q, k_tail.transpose(-1, -2))  # [R, H_kv, g, K, K]
        future = torch.ones(k_len, k_len, dtype=torch.bool, device=query.device).triu(1)
        s_tail = s_tail.masked_fill(future, float("-inf"))
    scores = torch.cat([s_pre, s_tail], dim=-1) * scale
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    p_pre, p_tail = probs.split([p_len, k_len], dim=-1)
    own = p_tail * v_tail if k_len == 1 else torch.matmul(p_tail, v_tail)  # [R, H_kv, g, K, d]
    out = unstacked(torch.matmul(stacked(p_pre), v_pre[0])) + own
    cache.calls += 1
    return out.reshape(rows, heads, k_len, dim).transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, prefix_attention_forward)


@contextmanager
def attending_to_prefix(model: Any, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[PrefixCache]:
    """Run ``model``'s forward passes inside the block with :func:`prefix_attention_forward`
    on the prefix ``kv`` (per block ``(keys, values)``, ``[1, H_kv, P, d]``); pass the
    yielded cache to the forward, then :meth:`PrefixCache.check_calls`."""
    cache = PrefixCache(kv)
    config = model.config
    saved = config._attn_implementation_internal
    token = _ACTIVE.set(cache)
    config._attn_implementation_internal = NAME  # the property's setter would recurse into sub-configs
    try:
        yield cache
    finally:
        config._attn_implementation_internal = saved
        _ACTIVE.reset(token)
