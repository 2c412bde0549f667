"""The causal engine's attention on one shared prompt prefix equals the model's own
attention on a per-row copy of it (prefix_attention.py)."""

from __future__ import annotations

import pytest
import torch

from harness.attribution.causal import cache_tensors, expanded_cache
from harness.attribution.prefix_attention import PrefixCache, attending_to_prefix, prefix_attention_forward


def _body_on_prefix(adapter, prefix, tails, attention):
    """Last hidden states of ``tails [R, K]`` after the one-row ``prefix [P]``: with the
    model's own attention (``attention`` = "eager"/"sdpa") on a per-row copy of the cached
    prefix, or with the shared-prefix attention (``attention`` = None)."""
    _, cache = adapter.forward_body(prefix[None], use_cache=True)
    kv = cache_tensors(cache)
    if attention is None:
        with attending_to_prefix(adapter.model, kv) as shared:
            hidden, _ = adapter.forward_body(tails, cache=shared, use_cache=True)
        shared.check_calls(adapter.model)
        return hidden
    saved = adapter.model.config._attn_implementation
    adapter.model.config._attn_implementation = attention
    try:
        hidden, _ = adapter.forward_body(tails, cache=expanded_cache(kv, tails.shape[0]), use_cache=True)
    finally:
        adapter.model.config._attn_implementation = saved
    return hidden


# llama: grouped-query attention (4 heads, 2 key/value heads); gemma2: soft-capped scores
@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma2"])
@pytest.mark.parametrize("tail_length", [1, 3])
def test_shared_prefix_attention_equals_the_models_own(make_adapter, family, tail_length):
    layers = {"n_layer": 3} if family == "gpt2" else {"num_hidden_layers": 3}
    adapter = make_adapter(family, **layers)
    g = torch.Generator().manual_seed(0)
    vocab = adapter.model.config.vocab_size
    prefix = torch.randint(5, vocab, (6,), generator=g).to(adapter.device)
    tails = torch.randint(5, vocab, (4, tail_length), generator=g).to(adapter.device)  # 4 rows
    ours = _body_on_prefix(adapter, prefix, tails, None)
    for attention in ("eager",) if family == "gemma2" else ("eager", "sdpa"):  # sdpa cannot soft-cap
        theirs = _body_on_prefix(adapter, prefix, tails, attention)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    # and each row equals the whole sentence run alone without any cache
    whole, _ = adapter.forward_body(torch.cat([prefix, tails[2]])[None])
    torch.testing.assert_close(ours[2], whole[0, -tail_length:], rtol=1e-5, atol=1e-5)


def test_a_family_that_bypasses_the_interface_is_refused(make_adapter):
    adapter = make_adapter("xglm")  # XGLM computes its attention itself
    _, cache = adapter.forward_body(torch.tensor([[5, 6, 7]], device=adapter.device), use_cache=True)
    with attending_to_prefix(adapter.model, cache_tensors(cache)) as shared:
        adapter.forward_body(torch.tensor([[8]], device=adapter.device), cache=shared, use_cache=True)
    with pytest.raises(RuntimeError, match="attention interface"):
        shared.check_calls(adapter.model)
    assert not adapter.prefix_attention  # so the engine copies the prefix per row for it


def test_outside_its_context_the_attention_refuses_to_run():
    q = torch.zeros(1, 2, 1, 4)
    with pytest.raises(RuntimeError, match="attending_to_prefix"):
        prefix_attention_forward(torch.nn.Module(), q, q[:, :1], q[:, :1], None)
    assert isinstance(PrefixCache([(q, q)]), PrefixCache)


def test_a_sliding_window_shorter_than_the_query_is_refused(make_adapter):
    """A sliding-window cache keeps only the window's last keys, which the engine does not
    handle: it refuses such a query (released models have windows of 4096 tokens and more)."""
    from harness.attribution import attribute, encode_query

    from .conftest import MULTI

    adapter = make_adapter("mistral", sliding_window=3)
    enc = encode_query(adapter, MULTI, full_object=True)
    with pytest.raises(ValueError, match=r"sliding attention window \(3\)"):
        attribute(adapter, enc, "ig", steps=3, full_object=True)
