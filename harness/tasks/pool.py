"""What the application tasks share: seeded samples of the dataset's other facts, English
queries from the pool, correctness of predictions, and saving/restoring the weights a task
touches.

The *fact pool* (``ctx.pool``, :class:`harness.data.FactPool`) is every fact of the run's
dataset, each language read once per run; tests and plugins give their own with
``FactPool.of(facts)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch

from harness.attribution import ClozeQuery, predict_batch
from harness.data import Fact
from harness.tasks.base import TaskContext


def seeded_order(uuids: Iterable[str], seed: int | str) -> list[str]:
    """``uuids`` sorted, then shuffled by ``random.Random(seed)``: the same order for the
    same set and seed, whatever order the set came in."""
    out = sorted(uuids)
    random.Random(str(seed)).shuffle(out)
    return out


def language_queries(ctx: TaskContext, fact: Fact, language: str) -> tuple[ClozeQuery, ...]:
    """The fact's queries in ``language``: its own, or the pool's copy of the fact when the
    run does not include that language (e.g. English, the edit language)."""
    own = fact.queries.get(language)
    if own:
        return tuple(own)
    other = ctx.pool.facts([*fact.queries, language]).get(fact.uuid)
    return tuple(other.queries.get(language, ())) if other is not None else ()


def correct(ctx: TaskContext, queries: Sequence[ClozeQuery]) -> list[bool]:
    """Whether the model's top-1 is the object's first token, per query."""
    if not queries:
        return []
    return [p.correct for p in predict_batch(ctx.adapter, queries, batch_size=ctx.batch_size)]


def owning_parameter(model: torch.nn.Module, view: torch.Tensor) -> tuple[str, torch.nn.Parameter]:
    """The parameter whose storage ``view`` (e.g. ``weight.T``) looks into."""
    ptr = view.untyped_storage().data_ptr()
    for name, p in model.named_parameters():
        if p.untyped_storage().data_ptr() == ptr:
            return name, p
    raise ValueError("the tensor is not a view of any parameter of the model")


def same_view(base: torch.Tensor, like: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """The view of ``base`` (shaped and strided like ``param``) that ``like`` is of ``param``."""
    offset = like.storage_offset() - param.storage_offset()
    return base.as_strided(like.size(), like.stride(), base.storage_offset() + offset)


@contextmanager
def restored(tensors: Mapping[str, torch.Tensor], offload: bool = False) -> Iterator[None]:
    """Copy ``tensors`` (parameters or views of them) on entry and write the copies back on
    exit, whatever happens inside: the bytes are restored exactly. ``offload`` keeps the
    copies on the CPU (a whole model's copy need not fit beside it on the GPU)."""
    saved = {
        k: t.detach().to("cpu", copy=True) if offload else t.detach().clone() for k, t in tensors.items()
    }
    try:
        yield
    finally:
        with torch.no_grad():
            for k, t in tensors.items():
                t.copy_(saved[k])


def first_token(ctx: TaskContext, query: ClozeQuery) -> int:
    """The object's first token id as the model tokenizes it after the query's prefix."""
    from harness.attribution import encode_query

    return int(encode_query(ctx.adapter, query).object_ids[0])


def with_answer(query: ClozeQuery, answer: str) -> ClozeQuery:
    return ClozeQuery(query.prefix, answer, query.suffix, query.space)


def ratio(ok: int, n: int) -> float:
    return ok / n if n else float("nan")


def nanmean(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]
    return sum(vals) / len(vals) if vals else float("nan")


def sample_facts(
    pool: Mapping[str, Fact],
    k: int,
    seed: int | str,
    keep: Callable[[Fact], bool],
    scan: int | None = None,
) -> list[Fact]:
    """The first ``k`` facts of the pool in seeded order that ``keep`` accepts, looking at
    no more than ``scan`` facts (None: all)."""
    out: list[Fact] = []
    for i, uuid in enumerate(seeded_order(pool, seed)):
        if len(out) >= k or (scan is not None and i >= scan):
            break
        if keep(pool[uuid]):
            out.append(pool[uuid])
    return out
