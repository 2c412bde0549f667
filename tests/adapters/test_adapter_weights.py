"""Sizes, names, weights views and output embeddings of each adapter."""

from __future__ import annotations

import pytest
import torch

FAMILIES = ["gpt2", "llama", "mistral", "qwen2", "gemma", "gemma2", "bloom", "xglm", "bert", "xlm-roberta"]
SIZES = {  # family: (is_causal, n_neurons)
    "gpt2": (True, 64),
    "llama": (True, 48),
    "mistral": (True, 48),
    "qwen2": (True, 48),
    "gemma": (True, 48),
    "gemma2": (True, 48),
    "bloom": (True, 128),  # BLOOM's FFN is 4 x hidden_size
    "xglm": (True, 64),
    "bert": (False, 48),
    "xlm-roberta": (False, 48),
}


def all_logits(adapter):
    x = torch.tensor([adapter.tokenizer("Tokyo is the capital of Japan")["input_ids"]], device=adapter.device)
    with torch.no_grad():
        return adapter.model(input_ids=x).logits


@pytest.mark.parametrize("family", FAMILIES)
def test_sizes_and_names(make_adapter, test_device, family):
    adapter = make_adapter(family)
    is_causal, n = SIZES[family]
    assert adapter.is_causal is is_causal
    assert (adapter.n_layers, adapter.n_neurons, adapter.d_model) == (2, n, 32)
    assert adapter.device.type == test_device and adapter.dtype == torch.float32
    assert adapter.activation_name(1) == "layers.1.ffn.act"
    assert not adapter.model.training
    assert family in repr(adapter)
    tok = adapter.tokenizer
    assert adapter.baseline_token_id == (tok.eos_token_id if is_causal else tok.mask_token_id)


@pytest.mark.parametrize("family", FAMILIES)
def test_zeroing_output_weights_equals_suppressing_everywhere(make_adapter, family):
    adapter = make_adapter(family)
    neurons = torch.tensor([2, 9, 11])
    with adapter.intervene({1: (neurons, "set", 0.0)}, positions=None):
        suppressed = all_logits(adapter)
    w = adapter.neuron_output_weights(1)
    assert w.shape == (adapter.n_neurons, adapter.d_model)
    with torch.no_grad():
        w[neurons] = 0.0  # in place through the view: edits the model
    erased = all_logits(adapter)
    assert torch.allclose(erased, suppressed, atol=1e-5)
    proj = adapter.ffn_output_projection(1).weight
    assert w.data_ptr() == proj.data_ptr() and (proj == 0).sum() == 3 * adapter.d_model


@pytest.mark.parametrize("family", FAMILIES)
def test_zeroing_input_weights_silences_the_neuron(make_adapter, family):
    """With its input weights and biases at 0 a neuron's pre-activation is 0, and
    gelu(0) = silu(0) * 0 = 0: the same as suppressing it everywhere."""
    adapter = make_adapter(family)
    neurons = torch.tensor([4, 5])
    with adapter.intervene({0: (neurons, "set", 0.0)}, positions=None):
        suppressed = all_logits(adapter)
    params = adapter.neuron_input_parameters(0)
    assert params and all(p.parameter.shape[p.dim] == adapter.n_neurons for p in params)
    with torch.no_grad():
        for p in params:
            for i in neurons.tolist():
                p.neuron_view(i).zero_()
    assert torch.allclose(all_logits(adapter), suppressed, atol=1e-5)


def test_input_parameter_names(make_adapter):
    families = ("gpt2", "llama", "bloom", "xglm", "bert")
    names = {f: [p.name for p in make_adapter(f).neuron_input_parameters(0)] for f in families}
    assert names == {
        "gpt2": ["c_fc.weight", "c_fc.bias"],
        "llama": ["gate_proj.weight", "up_proj.weight"],
        "bloom": ["dense_h_to_4h.weight", "dense_h_to_4h.bias"],
        "xglm": ["fc1.weight", "fc1.bias"],
        "bert": ["intermediate.dense.weight", "intermediate.dense.bias"],
    }


@pytest.mark.parametrize("family", ["gpt2", "llama", "bloom", "xglm", "bert"])
def test_output_embedding(make_adapter, family):
    adapter = make_adapter(family)
    ids = [3, 17, 3]
    emb = adapter.output_embedding(ids)
    assert emb.shape == (3, adapter.d_model)
    head = adapter.model.get_output_embeddings().weight
    assert torch.equal(emb, head[ids])
    # the logit of token t is <final hidden state, row t> (+ bias for BERT's head)
    h = torch.randn(adapter.d_model, device=adapter.device)
    assert torch.allclose(emb @ h, (head @ h)[ids])


def test_bfloat16_adapter(make_adapter):
    adapter = make_adapter("gpt2", dtype=torch.bfloat16)
    assert adapter.dtype == torch.bfloat16
    with adapter.capture() as acts, torch.no_grad():
        adapter.model(input_ids=torch.tensor([[5, 6, 7]], device=adapter.device))
    assert acts[0].dtype == torch.bfloat16


@pytest.mark.parametrize("family", FAMILIES)
def test_lm_logits_on_the_body_equal_the_model(make_adapter, family):
    """The engine runs body and head separately (Gemma-2: with its final soft-capping)."""
    adapter = make_adapter(family, **({"final_logit_softcapping": 0.5} if family == "gemma2" else {}))
    x = torch.tensor([adapter.tokenizer("Tokyo is the capital of Japan")["input_ids"]], device=adapter.device)
    with torch.no_grad():
        hidden, _ = adapter.forward_body(x)
        assert torch.allclose(adapter.lm_logits(hidden), all_logits(adapter), atol=1e-5)
