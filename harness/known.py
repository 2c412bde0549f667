"""``--known-only``: keep the facts the model knows.

A fact is *known* when the model's top-1 at the first answer position is the object's first
token for at least one of its queries in **every** language of the run. The tasks measure
what neurons do to a correct answer (Eq. 14 over the queries answered correctly), so a
fact the model does not know gives them nothing to measure; the paper's language-agnostic
study needs the fact known in each language it compares. Facts are scanned in dataset order
until ``limit`` are found, language by language (a fact fails at its first language with no
correct query, so an unknown fact costs about one language's queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from harness.attribution import predict_batch
from harness.data import Fact

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


def is_known(adapter: ModelAdapter, fact: Fact, batch_size: int = 16) -> bool:
    for queries in fact.queries.values():
        if not queries or not any(p.correct for p in predict_batch(adapter, queries, batch_size=batch_size)):
            return False
    return True


def known_facts(
    adapter: ModelAdapter, facts: Iterable[Fact], limit: int | None = None, batch_size: int = 16
) -> Iterator[Fact]:
    """The facts of ``facts`` the model knows, in order, at most ``limit``."""
    found = 0
    for fact in facts:
        if limit is not None and found >= limit:
            return
        if is_known(adapter, fact, batch_size):
            found += 1
            yield fact
