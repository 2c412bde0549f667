"""``ModelAdapter.fused_activations``: GPT-2's gelu_new as one fused kernel, same function."""

from __future__ import annotations

import torch
from transformers.activations import GELUTanh, NewGELUActivation


def test_gelu_new_is_fused_inside_and_restored_after(make_adapter):
    adapter = make_adapter("gpt2")
    ids = torch.tensor([[5, 6, 7, 8]], device=adapter.device)
    with torch.no_grad():
        before = adapter.forward(ids)[0]
        with adapter.fused_activations():
            assert all(type(b.mlp.act) is GELUTanh for b in adapter.blocks())
            fused = adapter.forward(ids)[0]
        assert all(type(b.mlp.act) is NewGELUActivation for b in adapter.blocks())
        after = adapter.forward(ids)[0]
    assert torch.equal(before, after)
    torch.testing.assert_close(fused, before, rtol=1e-5, atol=1e-6)  # float rounding only


def test_other_activations_are_left_alone(make_adapter):
    adapter = make_adapter("llama")
    acts = [b.mlp.act_fn for b in adapter.blocks()]
    with adapter.fused_activations():
        assert [b.mlp.act_fn for b in adapter.blocks()] == acts
