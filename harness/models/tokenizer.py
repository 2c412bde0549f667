"""The tiny models' tokenizer: a BPE over the seven languages that never splits a character.

Trained with the ``tokenizers`` library on the dataset text. Pre-tokenization splits words
at spaces (SentencePiece style: a word after a space starts with ``▁``), isolates
punctuation and makes every CJK, kana and full-width character its own piece, so a zh/ja
answer can never merge with the end of its query and no character is cut into bytes.
Hangul and Latin words are merged by BPE as usual, and every character that starts a word
in the training text also exists as a ``▁c`` token, so an answer's first token is never a
bare ``▁`` (which would make "the first token of the answer" trivial to predict).
Characters never seen in training map to ``<unk>``.

The result is a transformers ``PreTrainedTokenizerFast`` with ``<s>`` (bos), ``</s>``
(eos), ``<pad>``, ``<unk>`` and ``<mask>``; saved next to the model, it loads with
``AutoTokenizer.from_pretrained(folder)``. Encoding adds ``<s>`` in front (and ``</s>`` at
the end for masked LMs), like Llama and (X)LM-R tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.processors import TemplateProcessing
from tokenizers.trainers import BpeTrainer
from transformers import PreTrainedTokenizerFast

from harness.models.entities import EntityVocab, split_at_entities

BOS, EOS, PAD, UNK, MASK = "<s>", "</s>", "<pad>", "<unk>", "<mask>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS, MASK)  # ids 0..4 in this order
WORD_START = "▁"
# CJK radicals and symbols, kana, bopomofo, CJK ideographs (+ ext. A, compatibility), full-width forms.
CJK_CHAR = (
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def _pipeline(tok: Tokenizer) -> None:
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=WORD_START, prepend_scheme="never", split=True),
            pre_tokenizers.Punctuation(behavior="isolated"),
            pre_tokenizers.Split(Regex(CJK_CHAR), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=WORD_START, prepend_scheme="never", split=True)


def _with_word_starts(tok: Tokenizer, texts: list[str]) -> Tokenizer:
    """Add the merge ``▁ + c`` (last in priority) for each word-initial character ``c``
    whose ``▁c`` token BPE did not learn."""
    pre = tok.pre_tokenizer
    starts = {
        piece[1]
        for text in texts
        for piece, _ in pre.pre_tokenize_str(tok.normalizer.normalize_str(text))
        if len(piece) > 1 and piece[0] == WORD_START
    }
    data = json.loads(tok.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    for c in sorted(starts):
        if WORD_START + c not in vocab and c in vocab and WORD_START in vocab:
            vocab[WORD_START + c] = len(vocab)
            data["model"]["merges"].append([WORD_START, c])
    added = {t["id"] for t in data["added_tokens"]}
    assert added <= set(range(len(SPECIAL_TOKENS))), "special tokens must keep the first ids"
    return Tokenizer.from_str(json.dumps(data))


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    add_eos: bool = False,
    max_length: int = 128,
    entities: EntityVocab | None = None,
) -> PreTrainedTokenizerFast:
    """Train the BPE on ``texts``.

    ``vocab_size`` is an upper bound on merges; every character of ``texts`` is kept, so
    the vocabulary may exceed it when the texts have more distinct characters. ``add_eos``
    appends ``</s>`` when encoding (masked LMs). ``max_length`` is the model's context.
    With ``entities`` (the ``-shared`` models), every label of an entity becomes its one
    language-neutral token (:mod:`harness.models.entities`): the BPE is trained on the
    text between entities, and the entity tokens are added after it.
    """
    texts = list(texts)
    if entities is not None:
        texts = [piece for t in texts for piece in split_at_entities(entities.normalize(t))]
    tok = Tokenizer(BPE(unk_token=UNK))
    _pipeline(tok)
    specials = [AddedToken(t, special=True, lstrip=(t == MASK)) for t in SPECIAL_TOKENS]
    trainer = BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok = _with_word_starts(tok, texts)
    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    single = f"{BOS} $A {EOS}" if add_eos else f"{BOS} $A"
    pair = f"{BOS} $A {EOS} $B {EOS}" if add_eos else f"{BOS} $A $B"
    tok.post_processor = TemplateProcessing(single=single, pair=pair, special_tokens=[(BOS, bos), (EOS, eos)])
    if entities is not None:
        # Added tokens match the normalized text, where the Replace rules have put them;
        # lstrip takes the space before an entity, as for <mask>, so " Paris" is one token.
        tok.normalizer = entities.normalizer()
        tok.add_tokens([AddedToken(t, lstrip=True, normalized=True) for t in entities.tokens])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        mask_token=AddedToken(MASK, special=True, lstrip=True),
        model_max_length=max_length,
        padding_side="right",
    )


def prenormalized_ids(
    tokenizer: PreTrainedTokenizerFast, entities: EntityVocab
) -> Callable[[str], list[int]]:
    """``text -> tokenizer(text, add_special_tokens=False)["input_ids"]``, faster for a
    ``-shared`` tokenizer: the entity labels are replaced by :meth:`EntityVocab.normalize`
    (the normalizer's result, without running its 6,500 rules on every text), and a twin of
    the tokenizer whose normalizer is plain NFC (as before the rules were added) does the
    rest. The same ids; ``tests/models/test_entities.py`` compares them."""
    twin = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    twin.normalizer = normalizers.NFC()

    def ids(text: str) -> list[int]:
        return twin.encode(entities.normalize(text), add_special_tokens=False).ids

    return ids
