"""Cloze queries and how they become model inputs.

A :class:`ClozeQuery` is a filled template ``prefix [Y] suffix`` with its gold object. The
model input depends on the family:

* **causal** models read ``prompt = BOS? + tokens(prefix)`` and predict the object after it.
  The object tokens are ``tokens(prefix + " " + answer)`` minus ``tokens(prefix)`` (so BPE
  merges inside the answer and the leading space are handled). With ``full_object=True`` the
  remaining object tokens are appended for teacher forcing. The suffix is not used.
* **masked** models read ``[CLS] prefix [MASK]*K suffix [SEP]`` with one mask per object
  token (``K = len(object tokens)``).

The *target position* is where neurons are attributed and intervened on: the prompt's last
position (causal) or the first mask (masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


@dataclass(frozen=True)
class ClozeQuery:
    """A cloze query with its gold object."""

    prefix: str  # text before [Y], subject filled in
    answer: str  # the object label: the target of P(answer) and of attribution
    suffix: str = ""  # text after [Y] (punctuation); masked models only
    space: bool = True  # a space separates prefix and answer (False for zh/ja)
    # the fact's other valid objects (the dataset's `objects` minus `answer`): a top-1
    # prediction of their first token also counts as correct (see scoring.Prediction)
    alternatives: tuple[str, ...] = ()

    @property
    def separator(self) -> str:
        return " " if self.space else ""


@dataclass(frozen=True, eq=False)  # holds tensors: compare fields explicitly
class EncodedQuery:
    """A query as token ids, with the positions the engine needs (all tensors long, CPU)."""

    input_ids: torch.Tensor  # [S] the model input
    target_position: int  # where neurons are attributed / intervened
    answer_positions: torch.Tensor  # [K'] positions whose logits score `answer_ids`
    answer_ids: torch.Tensor  # [K'] scored object tokens (K' = 1, or K with full_object)
    object_ids: torch.Tensor  # [K] all object tokens
    token_positions: torch.Tensor  # [T'] the query's own tokens (no specials/masks): SAIG
    is_causal: bool
    full_object: bool
    # first token of every valid object (the answer's included), for correctness
    accepted_ids: torch.Tensor | None = None

    @property
    def prompt_length(self) -> int:
        """Tokens up to and including the target position."""
        return self.target_position + 1


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def special_wrapping(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text: e.g. ``([CLS], [SEP])``
    for BERT, ``([BOS], [])`` for Llama, ``([], [])`` for GPT-2."""
    probe = _ids(tokenizer, "a b")
    full = list(tokenizer("a b", add_special_tokens=True)["input_ids"])
    for i in range(len(full) - len(probe) + 1):
        if full[i : i + len(probe)] == probe:
            return full[:i], full[i + len(probe) :]
    raise ValueError("cannot locate the text inside the tokenizer's special-token template")


def _continuation(tokenizer: Any, head: str, tail: str) -> list[int]:
    """Tokens that ``tail`` adds after ``head``: ``ids(head + tail) - ids(head)``. When the
    boundary merges (``ids(head)`` is not a prefix), fall back to ``ids(tail)`` alone."""
    a, b = _ids(tokenizer, head), _ids(tokenizer, head + tail)
    if b[: len(a)] == a:
        return b[len(a) :]
    return _ids(tokenizer, tail)


def encode_query(adapter: ModelAdapter, query: ClozeQuery, full_object: bool = False) -> EncodedQuery:
    """Tokenize ``query`` for ``adapter``'s model family (see the module docstring)."""
    tok = adapter.tokenizer
    head, tail = special_wrapping(tok)
    prefix_ids = _ids(tok, query.prefix)
    object_ids = _continuation(tok, query.prefix, query.separator + query.answer)
    if not object_ids:
        raise ValueError(f"the answer {query.answer!r} has no tokens")
    k = len(object_ids) if full_object else 1

    if adapter.is_causal:
        prompt = head + prefix_ids
        if not prompt:
            raise ValueError("causal models need a non-empty prompt (empty prefix, no BOS)")
        t = len(prompt)
        input_ids = prompt + (object_ids[:-1] if full_object else [])  # teacher forcing
        answer_positions = list(range(t - 1, t - 1 + k))
        target = t - 1
        own = list(range(len(head), t))
    else:
        suffix_ids = _continuation(tok, query.prefix + query.separator + query.answer, query.suffix)
        masks = [int(tok.mask_token_id)] * len(object_ids)
        input_ids = head + prefix_ids + masks + suffix_ids + tail
        target = len(head) + len(prefix_ids)
        answer_positions = list(range(target, target + k))
        after = target + len(masks)
        own = list(range(len(head), target)) + list(range(after, after + len(suffix_ids)))

    def long(x: list[int]) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.long)

    accepted = [object_ids[0]]
    for alt in query.alternatives:
        ids = _continuation(tok, query.prefix, query.separator + alt) if alt else []
        if ids and ids[0] not in accepted:
            accepted.append(ids[0])

    return EncodedQuery(
        input_ids=long(input_ids),
        target_position=target,
        answer_positions=long(answer_positions),
        answer_ids=long(object_ids[:k]),
        object_ids=long(object_ids),
        token_positions=long(own),
        is_causal=bool(adapter.is_causal),
        full_object=full_object,
        accepted_ids=long(accepted),
    )


def as_encoded(adapter: ModelAdapter, query: ClozeQuery | EncodedQuery, full_object: bool) -> EncodedQuery:
    """Encode ``query`` unless it already is an :class:`EncodedQuery`."""
    if isinstance(query, EncodedQuery):
        if query.full_object != full_object or query.is_causal != adapter.is_causal:
            raise ValueError("the EncodedQuery was made for another full_object / model family")
        return query
    return encode_query(adapter, query, full_object)
