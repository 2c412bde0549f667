"""Cloze queries become model inputs with the right target, answer and token positions."""

from __future__ import annotations

import pytest
import torch

from harness.attribution import ClozeQuery, encode_query

from .conftest import MULTI, SINGLE


def test_causal_without_bos(make_adapter):
    adapter = make_adapter("gpt2")
    tok = adapter.tokenizer
    enc = encode_query(adapter, SINGLE)
    prompt = tok("The capital of France is")["input_ids"]
    assert enc.input_ids.tolist() == prompt  # GPT-2 adds no BOS; the suffix is not used
    assert enc.target_position == len(prompt) - 1
    assert enc.answer_positions.tolist() == [len(prompt) - 1]
    assert tok.convert_ids_to_tokens(enc.answer_ids.tolist()) == ["ĠParis"]  # with its space
    assert enc.token_positions.tolist() == list(range(len(prompt)))


def test_causal_with_bos_and_teacher_forcing(make_adapter):
    adapter = make_adapter("llama")
    tok = adapter.tokenizer
    enc = encode_query(adapter, MULTI, full_object=True)
    obj = tok.convert_ids_to_tokens(enc.object_ids.tolist())
    assert obj == ["ĠParis", "ber", "g"]
    t = enc.prompt_length
    assert enc.input_ids[0].item() == tok.bos_token_id
    assert enc.input_ids[t:].tolist() == enc.object_ids[:-1].tolist()  # teacher forcing
    assert enc.answer_positions.tolist() == [t - 1, t, t + 1]
    assert enc.answer_ids.tolist() == enc.object_ids.tolist()
    assert 0 not in enc.token_positions.tolist()  # BOS is not a query token
    assert enc.token_positions.tolist() == list(range(1, t))
    first = encode_query(adapter, MULTI)
    assert first.input_ids.tolist() == enc.input_ids[:t].tolist()
    assert first.answer_ids.tolist() == enc.object_ids[:1].tolist()


def test_masked_query_has_one_mask_per_object_token(make_adapter):
    adapter = make_adapter("bert")
    tok = adapter.tokenizer
    enc = encode_query(adapter, MULTI, full_object=True)
    tokens = tok.convert_ids_to_tokens(enc.input_ids.tolist())
    assert tokens == [
        "[CLS]",
        "dante",
        "alighieri",
        "was",
        "born",
        "in",
        "[MASK]",
        "[MASK]",
        "[MASK]",
        "[MASK]",
        "[MASK]",
        ".",
        "[SEP]",
    ]
    assert enc.target_position == 6
    assert enc.answer_positions.tolist() == [6, 7, 8, 9, 10]
    assert tok.convert_ids_to_tokens(enc.answer_ids.tolist()) == ["paris", "##b", "##e", "##r", "##g"]
    assert enc.token_positions.tolist() == [1, 2, 3, 4, 5, 11]  # no [CLS]/[SEP]/[MASK]
    first = encode_query(adapter, MULTI)
    assert first.input_ids.tolist() == enc.input_ids.tolist()  # still five masks
    assert first.answer_positions.tolist() == [6]


def test_no_space_languages(make_adapter):
    adapter = make_adapter("gpt2")
    tok = adapter.tokenizer
    enc = encode_query(adapter, ClozeQuery("法国的首都是", "巴黎", "。", space=False), full_object=True)
    assert tok.decode(enc.object_ids.tolist()) == "巴黎"
    spaced = encode_query(adapter, ClozeQuery("法国的首都是", "巴黎", "。"), full_object=True)
    assert tok.decode(spaced.object_ids.tolist()) == " 巴黎"


def test_boundary_merge_falls_back_to_the_answer_alone(make_adapter):
    adapter = make_adapter("gpt2")
    tok = adapter.tokenizer
    # "Par" + "is" merges into "Paris" when there is no space: ids(prefix) is no prefix
    enc = encode_query(adapter, ClozeQuery("Par", "is", space=False))
    assert tok("Paris")["input_ids"][: len(tok("Par")["input_ids"])] != tok("Par")["input_ids"]
    assert enc.input_ids.tolist() == tok("Par")["input_ids"]
    assert enc.object_ids.tolist() == tok("is")["input_ids"]


def test_errors(make_adapter):
    with pytest.raises(ValueError, match="no tokens"):
        encode_query(make_adapter("bert"), ClozeQuery("The capital is", ""))
    with pytest.raises(ValueError, match="non-empty prompt"):
        encode_query(make_adapter("gpt2"), ClozeQuery("", "Paris", space=False))
    assert isinstance(encode_query(make_adapter("llama"), ClozeQuery("", "Paris")).input_ids, torch.Tensor)
