"""The training loss (fast path) against the plain transformers loss, and the encoding of
cloze items for causal and masked LMs."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from harness.models.facts import Cloze
from harness.models.tokenizer import train_tokenizer
from harness.models.training import IGNORE, _collate, _loss, encode

CLOZES = [
    Cloze("u1", "P36", "en", "The capital of France is", " Paris", "."),
    Cloze("u1", "P36", "zh", "法国的首都是", "巴黎", "。"),
]


@pytest.fixture(scope="module")
def tok():  # noqa: ANN201
    return train_tokenizer([c.sentence for c in CLOZES] * 3, vocab_size=60, add_eos=True)


def _model(masked: bool, vocab: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if masked:
        cfg = BertConfig(
            vocab_size=vocab,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=32,
        )
        return BertForMaskedLM(cfg).eval()
    cfg = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=1, n_head=2, n_positions=32)
    return GPT2LMHeadModel(cfg).eval()


def test_encoding(tok) -> None:  # noqa: ANN001
    causal, masked = encode(tok, CLOZES[1], masked=False), encode(tok, CLOZES[1], masked=True)
    chars = [tok.convert_tokens_to_ids(ch) for ch in "法国的首都是巴黎。"]
    assert causal.input_ids == [tok.bos_token_id, *chars, tok.eos_token_id]
    assert causal.answer_pos == 6 and causal.answer_id == chars[6]  # after "是" comes "巴"
    m = tok.mask_token_id
    assert masked.input_ids == [tok.bos_token_id, *chars[:6], m, m, chars[8], tok.eos_token_id]
    assert masked.answer_pos == 7 and masked.labels[7:9] == chars[6:8]
    assert sum(label != IGNORE for label in masked.labels) == 2


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("weight", [1.0, 5.0])
def test_loss_matches_the_plain_reference(tok, masked: bool, weight: float) -> None:  # noqa: ANN001
    items = [encode(tok, c, masked) for c in CLOZES]
    ids, labels, mask = _collate(items, tok.pad_token_id)
    pos = torch.tensor([e.answer_pos for e in items])
    model = _model(masked, len(tok))
    logits = model(input_ids=ids, attention_mask=mask).logits  # [batch, seq, vocab]
    if not masked:
        logits, labels_ref = logits[:, :-1], labels[:, 1:]
    else:
        labels_ref = labels
    ce = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2), labels_ref, ignore_index=IGNORE, reduction="none"
    )  # [batch, seq']
    w = (labels_ref != IGNORE).float()
    w[torch.arange(len(items)), pos] *= weight
    assert [labels_ref[i, pos[i]].item() for i in range(2)] == [e.answer_id for e in items]
    expected = (ce * w).sum() / w.sum()
    got = _loss(model, ids, labels, mask, masked, weight, pos)
    torch.testing.assert_close(got, expected)
    if weight == 1.0:
        torch.testing.assert_close(got, model(input_ids=ids, attention_mask=mask, labels=labels).loss)
