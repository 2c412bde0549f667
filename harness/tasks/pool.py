"""What the application tasks share: other facts of the dataset, seeded samples of them,
top-1 predictions, and saving/restoring the weights a task touches.

The *fact pool* is every fact of the dataset in the run's languages (plus the edit language),
loaded once per process and language set. Tests and plugins pass their own pool as
``ctx.options["fact_pool"]`` (a sequence of :class:`harness.data.Fact`); the dataset folder
comes from ``ctx.options["dataset"]`` (default: the built ``rml_lama/``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from harness.attribution import ClozeQuery, predict_batch
from harness.data import Fact, load_facts
from harness.tasks.base import TaskContext


@lru_cache(maxsize=4)
def _dataset_pool(dataset: str | None, languages: tuple[str, ...]) -> dict[str, Fact]:
    return {f.uuid: f for f in load_facts(list(languages), dataset=dataset)}


def fact_pool(ctx: TaskContext, languages: Iterable[str]) -> dict[str, Fact]:
    """uuid → fact for every fact with queries in all ``languages`` (dataset order)."""
    given = ctx.options.get("fact_pool")
    langs = tuple(dict.fromkeys(languages))
    if given is not None:
        return {f.uuid: f for f in given if all(f.queries.get(lang) for lang in langs)}
    dataset = ctx.options.get("dataset")
    return _dataset_pool(str(dataset) if dataset is not None else None, langs)


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
    other = fact_pool(ctx, [*fact.queries, language]).get(fact.uuid)
    return tuple(other.queries.get(language, ())) if other is not None else ()


def top1(ctx: TaskContext, queries: Sequence[ClozeQuery]) -> list[int]:
    """Top-1 token id at the first answer position of each query."""
    if not queries:
        return []
    return [p.top_token_id for p in predict_batch(ctx.adapter, queries, batch_size=ctx.batch_size)]


def correct(ctx: TaskContext, queries: Sequence[ClozeQuery]) -> list[bool]:
    """Whether the model's top-1 is the object's first token, per query."""
    if not queries:
        return []
    return [p.correct for p in predict_batch(ctx.adapter, queries, batch_size=ctx.batch_size)]


def splits_of(ctx: TaskContext) -> Any | None:
    """The tiny model's known/high-resource-only/held-out split (``ctx.options["splits"]``,
    or the ``splits.json`` beside the loaded model), or None for other models."""
    if ctx.options.get("splits") is not None:
        return ctx.options["splits"]
    loaded = ctx.options.get("loaded_model")
    spec = getattr(loaded, "spec", None)
    folder = getattr(spec, "hf_id", None)
    if not folder or not (Path(folder) / "splits.json").is_file():
        return None
    from harness.models.splits import Splits

    return Splits.load(Path(folder) / "splits.json")


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
        k: t.detach().to("cpu", copy=True) if offload else t.detach().clone()
        for k, t in tensors.items()
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
    pool: Mapping[str, Fact], k: int, seed: int | str, keep: Callable[[Fact], bool],
    scan: int | None = None,
) -> list[Fact]:
    """The first ``k`` facts of the pool in seeded order that ``keep`` accepts, looking at
    no more than ``scan`` facts (None: all)."""
    out = []
    for i, uuid in enumerate(seeded_order(pool, seed)):
        if len(out) >= k or (scan is not None and i >= scan):
            break
        if keep(pool[uuid]):
            out.append(pool[uuid])
    return out
