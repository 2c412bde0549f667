"""get_adapter dispatches on config.model_type and refuses anything else clearly."""

from __future__ import annotations

import pytest
import torch
import transformers

from harness.adapters import (
    BertAdapter,
    BloomAdapter,
    GPT2Adapter,
    LlamaAdapter,
    UnsupportedModelError,
    XGLMAdapter,
    get_adapter,
    register_adapter,
    supported_model_types,
)
from harness.adapters.tiny import tiny_tokenizer


@pytest.mark.parametrize(
    ("family", "cls"),
    [
        ("gpt2", GPT2Adapter),
        ("llama", LlamaAdapter),
        ("qwen2", LlamaAdapter),
        ("gemma", LlamaAdapter),
        ("gemma2", LlamaAdapter),
        ("bloom", BloomAdapter),
        ("xglm", XGLMAdapter),
        ("bert", BertAdapter),
        ("xlm-roberta", BertAdapter),
    ],
)
def test_dispatch(make_adapter, family, cls):
    assert type(make_adapter(family)) is cls


def test_unsupported_model_type_lists_the_supported_ones():
    config = transformers.GPTNeoConfig(
        vocab_size=50, hidden_size=16, num_layers=1, num_heads=2, attention_types=[[["global"], 1]]
    )
    model = transformers.GPTNeoForCausalLM(config)
    with pytest.raises(UnsupportedModelError) as err:
        get_adapter(model, tiny_tokenizer("gpt2"))
    msg = str(err.value)
    assert "'gpt_neo'" in msg
    for model_type in ("gpt2", "llama", "mistral", "qwen2", "gemma", "bloom", "xglm", "bert", "xlm-roberta"):
        assert model_type in msg
    assert supported_model_types() == sorted(supported_model_types())


def test_masked_lm_head_is_required():
    model = transformers.BertModel(
        transformers.BertConfig(
            vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
        )
    )
    with pytest.raises(ValueError, match="AutoModelForMaskedLM"):
        get_adapter(model, tiny_tokenizer("bert"))


def test_model_type_clash_is_refused():
    class Another(GPT2Adapter):
        model_types = ("gpt2",)

    with pytest.raises(ValueError, match="already has an adapter"):
        register_adapter(Another)


def test_masked_block_by_block_execution_reproduces_the_model(make_adapter):
    adapter = make_adapter("bert")
    ids = adapter.tokenizer("the capital of france is paris")["input_ids"]
    x = torch.tensor([ids], device=adapter.device)
    with torch.no_grad():
        states = adapter.hidden_states(x)
        h = states[0]
        for layer in range(adapter.n_layers):
            h = adapter.run_block(layer, h)
            assert torch.allclose(h, states[layer + 1], atol=1e-6)
        assert torch.allclose(adapter.lm_logits(h), adapter.model(input_ids=x).logits, atol=1e-5)


def test_bloom_slow_but_exact_is_refused():
    """With pretraining_tp > 1 and slow_but_exact, BLOOM's MLP never calls dense_4h_to_h."""
    from harness.adapters.tiny import tiny_model

    model, tok = tiny_model("bloom", pretraining_tp=2, slow_but_exact=True)
    with pytest.raises(ValueError, match="slow_but_exact"):
        get_adapter(model, tok)


def test_every_registered_model_has_an_adapter():
    """`rml-eval list` offers only models whose architecture an adapter serves."""
    from harness.models import model_specs

    specs = model_specs()
    assert len(specs) >= 10
    missing = {s.name: s.architecture for s in specs if s.architecture not in supported_model_types()}
    assert not missing, f"registered models without an adapter: {missing}"
