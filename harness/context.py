"""Queries that fit the model's context: a query whose input is longer than the model's
position table (``n_positions``, ``max_position_embeddings``) would index past it and crash
the forward pass, so it is left out of its fact before attribution and tasks, and counted.

The length checked is the longest input the harness builds from a query: the
``full_object`` encoding (causal: the prompt plus the object's tokens but the last, for
teacher forcing; masked: one mask per object token, the suffix and the specials).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from harness.attribution.query import ClozeQuery, encode_query, special_wrapping

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter
    from harness.data import Fact


def query_fits(adapter: ModelAdapter) -> Callable[[ClozeQuery], bool] | None:
    """A predicate: does the query's longest input fit ``adapter``'s context? None when the
    model declares no context length (every query is kept)."""
    limit = adapter.context_length
    if limit is None:
        return None
    head, tail = special_wrapping(adapter.tokenizer)
    specials = len(head) + len(tail)
    seen: dict[ClozeQuery, bool] = {}

    def fits(query: ClozeQuery) -> bool:
        if query not in seen:
            if length_bound(query, adapter.is_causal) + specials <= limit:
                seen[query] = True  # no need to tokenize: whole-pool filtering stays cheap
            else:
                seen[query] = len(encode_query(adapter, query, full_object=True).input_ids) <= limit
        return seen[query]

    return fits


def length_bound(query: ClozeQuery, causal: bool) -> int:
    """An upper bound on the tokens of the query's longest input, specials not counted,
    computed without tokenizing (which costs ~3 ms a text for the shared-entity tokenizers).

    It assumes what byte-level BPE, SentencePiece with byte fallback, WordPiece and the
    entity tokens all satisfy: one tokenizer call yields at most one token per UTF-8 byte
    of its text, plus one word-start piece. The prompt and the object come from at most two
    calls (see ``_continuation``), so ≤ P + A + 2 bytes-tokens. A masked query's suffix is a
    continuation too; when it is not empty the bound is taken loosely, doubling the rest.
    ``tests/harness/test_context.py`` checks the bound against real encodings."""
    body = len((query.prefix + query.separator + query.answer).encode()) + 2
    if causal or not query.suffix:
        return body
    return 2 * body + len(query.suffix.encode()) + 1


def keep_fitting(fact: Fact, fits: Callable[[ClozeQuery], bool]) -> tuple[Fact, int]:
    """``fact`` with only the queries that fit, and how many were left out."""
    queries = {lang: tuple(q for q in qs if fits(q)) for lang, qs in fact.queries.items()}
    dropped = sum(len(qs) - len(queries[lang]) for lang, qs in fact.queries.items())
    return (replace(fact, queries=queries) if dropped else fact), dropped


@dataclass(frozen=True)
class LeftOut:
    """What :func:`limit_to_context` left out of a run."""

    context: int | None  # the model's context length in tokens
    queries: int = 0  # queries longer than it, over the selected facts
    facts: int = 0  # facts left with no query in one of the run's languages (not run)

    def as_dict(self) -> dict:
        return {"context": self.context, "queries": self.queries, "facts": self.facts}

    def message(self) -> str | None:
        """One line for the console; None when nothing was left out."""
        if not self.queries:
            return None
        line = (
            f"left out {self.queries} quer{'y' if self.queries == 1 else 'ies'} longer than the "
            f"model's context of {self.context} tokens"
        )
        if self.facts:
            line += (
                f"; {self.facts} fact{'' if self.facts == 1 else 's'} left without a query in a "
                "language of the run, not evaluated"
            )
        return line


def limit_to_context(
    facts: Iterable[Fact], adapter: ModelAdapter, languages: Sequence[str]
) -> tuple[list[Fact], LeftOut]:
    """The facts with their over-long queries left out; a fact left with no query in one
    of ``languages`` is dropped, like a fact the dataset has no query for there."""
    fits = query_fits(adapter)
    facts = list(facts)
    if fits is None:
        return facts, LeftOut(None)
    kept, queries, gone = [], 0, 0
    for fact in facts:
        fact, dropped = keep_fitting(fact, fits)
        queries += dropped
        if all(fact.queries.get(lang) for lang in languages):
            kept.append(fact)
        else:
            gone += 1
    return kept, LeftOut(adapter.context_length, queries, gone)
