"""IG completeness on the fast path: per layer, Σ_n IG_l(n) ≈ P(real) − P(layer l zeroed)."""

from __future__ import annotations

import pytest
import torch

from harness.attribution import answer_probability, attribute

from .conftest import MULTI, SINGLE


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_ig_is_complete_per_layer(make_adapter, family):
    adapter = make_adapter(family)
    query = MULTI if family == "bert" else SINGLE
    full = family == "bert"  # also cover a multi-token masked target
    steps = 256
    att = attribute(adapter, query, method="ig", steps=steps, full_object=full, normalize=False)
    coarse = attribute(adapter, query, method="ig", steps=2, full_object=full, normalize=False)
    p_real = answer_probability(adapter, query, full_object=full)
    assert att.base_prob == pytest.approx(p_real, rel=1e-4)
    for layer in range(adapter.n_layers):
        everything = torch.arange(adapter.n_neurons)
        with adapter.intervene({layer: (everything, "set", 0.0)}):
            p_zero = answer_probability(adapter, query, full_object=full)
        delta = p_real - p_zero
        assert abs(delta) > 1e-3 * p_real, "zeroing the layer must matter for a real check"
        total = att.raw[layer].sum().item()
        assert total == pytest.approx(delta, rel=0.02)
        # the Riemann error shrinks with M: 2 steps are visibly worse than 256
        assert abs(coarse.raw[layer].sum().item() - delta) > abs(total - delta)
