"""The tiny models' tokenizer: whole CJK characters, clean query/answer boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from harness.models.tokenizer import SPECIAL_TOKENS, WORD_START, train_tokenizer

SENTENCES = {
    "en": ("The capital of France is", "Paris", "."),
    "fr": ("La capitale de la France est", "Paris", "."),
    "fi": ("Ranskan pääkaupunki on", "Pariisi", "."),
    "hu": ("Franciaország fővárosa", "Párizs", "."),
    "ko": ("프랑스의 수도는", "파리", "."),
    "zh": ("法国的首都是", "巴黎", "。"),
    "ja": ("フランスの首都は", "パリ", "。"),
}
SPACED = {"en", "fr", "fi", "hu", "ko"}


def _sentence(lang: str) -> str:
    q, a, s = SENTENCES[lang]
    return q + (" " if lang in SPACED else "") + a + s


@pytest.fixture(scope="module")
def tok():  # noqa: ANN201
    texts = [_sentence(lang) for lang in SENTENCES] + ["東京は日本の首都。", "서울은 한국의 수도."]
    return train_tokenizer(texts * 5, vocab_size=120)


def test_cjk_characters_are_whole_tokens(tok) -> None:  # noqa: ANN001
    for lang in ("zh", "ja"):
        pieces = tok.convert_ids_to_tokens(tok(_sentence(lang), add_special_tokens=False)["input_ids"])
        assert pieces == list(_sentence(lang))  # one token per character, never a byte piece
    for lang in SENTENCES:
        ids = tok(_sentence(lang), add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == _sentence(lang)
        for piece in tok.convert_ids_to_tokens(ids):  # every piece is whole characters
            assert piece.encode("utf-8").decode("utf-8") == piece and "\ufffd" not in piece


def test_query_then_answer_tokenizes_like_the_sentence(tok) -> None:  # noqa: ANN001
    for lang, (q, a, s) in SENTENCES.items():
        answer = (" " if lang in SPACED else "") + a
        parts = [tok(x, add_special_tokens=False)["input_ids"] for x in (q, answer, s)]
        assert sum(parts, []) == tok(q + answer + s, add_special_tokens=False)["input_ids"]
        first = tok.convert_ids_to_tokens(parts[1])[0]
        assert first != WORD_START and first.lstrip(WORD_START)  # informative first token
        assert first.startswith(WORD_START) == (lang in SPACED)


def test_specials_and_round_trip(tok, tmp_path) -> None:  # noqa: ANN001
    specials = [tok.pad_token, tok.unk_token, tok.bos_token, tok.eos_token, tok.mask_token]
    assert specials == list(SPECIAL_TOKENS)
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))
    ids = tok("Paris.")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] != tok.eos_token_id  # causal: <s> only
    masked = train_tokenizer([_sentence("en")] * 3, vocab_size=60, add_eos=True)
    enc = masked("The capital of France is <mask>.")["input_ids"]
    assert enc[0] == masked.bos_token_id and enc[-1] == masked.eos_token_id
    assert masked.mask_token_id in enc and WORD_START not in masked.convert_ids_to_tokens(enc)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    for lang in SENTENCES:
        assert again(_sentence(lang))["input_ids"] == tok(_sentence(lang))["input_ids"]
    assert again.mask_token == "<mask>" and again.pad_token_id == tok.pad_token_id


def test_training_gives_the_same_tokenizer_in_every_process(tok) -> None:  # noqa: ANN001
    """The trained models must be reproducible across machines: no hash-map order may leak
    into the vocabulary (the tokenizers trainer numbers continuing-subword pieces that way,
    which is why this tokenizer has none)."""
    import subprocess
    import sys

    script = (
        "import sys; from tests.models.test_tokenizer import SENTENCES, _sentence; "
        "from harness.models.tokenizer import train_tokenizer; "
        "texts = [_sentence(lang) for lang in SENTENCES] + ['東京は日本の首都。', '서울은 한국의 수도.']; "
        "sys.stdout.write(train_tokenizer(texts * 5, vocab_size=120).backend_tokenizer.to_str())"
    )
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo, check=True)
    assert run.stdout == tok.backend_tokenizer.to_str()
