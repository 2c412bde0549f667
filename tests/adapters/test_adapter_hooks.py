"""Each adapter hooks the TRUE neuron (the input of the FFN output projection), checked
against hooks written directly on the Hugging Face modules."""

from __future__ import annotations

import pytest
import torch


def mlp_of(adapter, layer):
    block = adapter.blocks()[layer]
    return block.mlp if adapter.model_type != "bert" else block


def manual_neuron_hook(adapter, layer, edit):
    """Register a hook that applies ``edit(act [B, S, N]) -> act`` to the true neuron,
    written family by family without the adapter's own hook point."""
    block = adapter.blocks()[layer]
    if adapter.model_type == "gpt2":  # output of mlp.act = act(c_fc(x))
        return block.mlp.act.register_forward_hook(lambda _m, _a, out: edit(out.clone()))
    if adapter.model_type == "bloom":  # output of mlp.gelu_impl = gelu(dense_h_to_4h(x))
        return block.mlp.gelu_impl.register_forward_hook(lambda _m, _a, out: edit(out.clone()))
    if adapter.model_type == "xglm":  # output of activation_fn(fc1(x)), inside the layer
        return block.activation_fn.register_forward_hook(lambda _m, _a, out: edit(out.clone()))
    if adapter.model_type in ("llama", "mistral", "qwen2", "gemma", "gemma2"):  # act(gate(x)) * up(x)
        mlp = block.mlp

        def recompute(_m, args, _out):
            x = args[0]
            return mlp.down_proj(edit(mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)))

        return mlp.register_forward_hook(recompute)
    # BERT family: the output of `intermediate` (post-activation)
    return block.intermediate.register_forward_hook(lambda _m, _a, out: edit(out.clone()))


def logits(adapter, input_ids):
    with torch.no_grad():
        return adapter.model(input_ids=input_ids.to(adapter.device)).logits


FAMILIES = ["gpt2", "llama", "mistral", "qwen2", "gemma", "gemma2", "bloom", "xglm", "bert", "xlm-roberta"]


@pytest.mark.parametrize("family", FAMILIES)
def test_capture_reads_the_true_neuron(make_adapter, ids, family):
    adapter = make_adapter(family)
    x = ids(adapter)
    seen = {}

    def grab(act):
        seen["act"] = act.clone()
        return act

    h = manual_neuron_hook(adapter, 1, grab)
    try:
        with adapter.capture([1]) as acts, torch.no_grad():
            adapter.model(input_ids=x)
    finally:
        h.remove()
    assert acts[1].shape == (2, x.shape[1], adapter.n_neurons)
    assert torch.equal(acts[1], seen["act"])


@pytest.mark.parametrize("family", FAMILIES)
def test_enhance_doubles_the_true_neuron(make_adapter, ids, family):
    adapter = make_adapter(family)
    x = ids(adapter)
    neurons, pos = torch.tensor([1, 5, 7]), 3

    def double(act):
        act[:, pos, neurons] *= 2
        return act

    h = manual_neuron_hook(adapter, 0, double)
    try:
        expected = logits(adapter, x)
    finally:
        h.remove()
    with adapter.intervene({0: (neurons, "scale", 2.0)}, positions=pos):
        got = logits(adapter, x)
    assert torch.allclose(got, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(got, logits(adapter, x), atol=1e-4)  # it did something


def test_gpt2_neuron_is_post_activation_not_c_fc(make_adapter, ids):
    """Doubling the c_fc output (the pre-activation, EleutherAI's hook) is different."""
    adapter = make_adapter("gpt2")
    x = ids(adapter)
    neurons = torch.arange(adapter.n_neurons)

    def double_pre(_m, _a, out):
        out = out.clone()
        out[:, 2] *= 2
        return out

    h = adapter.blocks()[0].mlp.c_fc.register_forward_hook(double_pre)
    try:
        pre = logits(adapter, x)
    finally:
        h.remove()
    with adapter.intervene({0: (neurons, "scale", 2.0)}, positions=2):
        post = logits(adapter, x)
    assert not torch.allclose(pre, post, atol=1e-4)


def test_llama_neuron_is_after_the_gate_product(make_adapter, ids):
    adapter = make_adapter("llama")
    x = ids(adapter)
    h = adapter.blocks()[0].mlp.gate_proj.register_forward_hook(lambda _m, _a, out: out * 2)
    try:
        gate_doubled = logits(adapter, x)
    finally:
        h.remove()
    with adapter.intervene({0: (torch.arange(adapter.n_neurons), "scale", 2.0)}, positions=None):
        neuron_doubled = logits(adapter, x)
    assert not torch.allclose(gate_doubled, neuron_doubled, atol=1e-4)


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_positions(make_adapter, ids, family):
    """set at: every position; a negative index; one position per row."""
    adapter = make_adapter(family)
    x = ids(adapter)
    seq, neurons = x.shape[1], torch.tensor([0, 3])

    def run(positions):
        # capture sees the intervened values even when entered first
        with adapter.capture([1]) as acts, adapter.intervene({1: (neurons, "set", 5.0)}, positions):
            logits(adapter, x)
        return acts[1][:, :, neurons]  # what the output projection saw

    assert (run(None) == 5.0).all()
    last = run(-1)
    assert (last[:, -1] == 5.0).all() and not (last[:, :-1] == 5.0).any()
    per_row = run(torch.tensor([1, seq - 2]))
    assert (per_row[0, 1] == 5.0).all() and (per_row[1, seq - 2] == 5.0).all()
    assert int((per_row == 5.0).sum()) == 4
    with adapter.targeting(torch.tensor([2, 0])):
        target = run("target")
    assert (target[0, 2] == 5.0).all() and (target[1, 0] == 5.0).all()


def test_intervention_errors(make_adapter, ids):
    adapter = make_adapter("gpt2")
    x = ids(adapter)
    with pytest.raises(RuntimeError, match="target position"), adapter.intervene({0: ([1], "set", 0.0)}):
        logits(adapter, x)
    with pytest.raises(ValueError, match="mode"), adapter.intervene({0: ([1], "double", 0.0)}):
        pass
    with pytest.raises(IndexError), adapter.intervene({5: ([1], "set", 0.0)}):
        pass
    # hooks are removed after the block, also after an error
    for i in range(2):
        proj = adapter.ffn_output_projection(i)
        assert not proj._forward_pre_hooks and not proj._forward_hooks
