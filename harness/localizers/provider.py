"""Attribution providers: compute each (model, query, method, steps) attribution once.

Every localizer of a run asks the same :class:`EngineProvider` for its scores, so comparing
five localizers costs the gradients of one. Two caches:

* **in memory** (per fact): every raw ``[L, N]`` attribution computed since the last
  :meth:`EngineProvider.clear`, which the harness calls between facts; least recently
  used entries are dropped past ``max_memory_bytes`` (4 GiB), so a run that forgets to
  clear cannot grow without bound;
* **on disk** (optional, :class:`DiskCache`): one safetensors file per attribution, keyed by
  the SHA-256 of (model id, method, steps, full_object, query); written atomically
  (``rml_lama.atomic``: temporary file + rename) and bounded in size by evicting the least
  recently used files (by mtime, which a hit refreshes).

The caches hold *raw* scores; per-layer normalization (Eq. 5) is applied on the way out,
so the normalized and raw views share one computation.

Methods: ``"saig"`` and ``"ig"`` come from :func:`harness.attribution.attribute`;
``"amig"`` is AMIG's adapted-baseline score (``harness.localizers.amig.amig_attribution``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from harness.attribution.query import ClozeQuery
from rml_lama.atomic import atomic_write

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter
    from harness.attribution.api import Method

CACHE_VERSION = 1  # bump when the meaning of a cached tensor changes

# fn(adapter, query, steps, full_object, max_rows) -> (raw [L, N] float32 CPU, P(answer))
MethodFn = Callable[["ModelAdapter", ClozeQuery, int, bool, int], tuple[torch.Tensor, float]]


def _engine_method(name: Method) -> MethodFn:
    def run(
        adapter: ModelAdapter, query: ClozeQuery, steps: int, full_object: bool, max_rows: int
    ) -> tuple[torch.Tensor, float]:
        from harness.attribution import attribute

        att = attribute(
            adapter,
            query,
            method=name,
            steps=steps,
            full_object=full_object,
            max_rows=max_rows,
            normalize=False,
        )
        return att.raw, att.base_prob

    run.__name__ = f"engine_{name}"
    return run


def _amig(adapter: ModelAdapter, query: ClozeQuery, steps: int, full_object: bool, max_rows: int):
    from harness.localizers.amig import amig_attribution

    return amig_attribution(adapter, query, steps=steps, full_object=full_object, max_rows=max_rows)


DEFAULT_METHODS: dict[str, MethodFn] = {
    "saig": _engine_method("saig"),
    "ig": _engine_method("ig"),
    "amig": _amig,
}


def cache_key(model_id: str, method: str, steps: int, full_object: bool, query: ClozeQuery) -> str:
    """Hex SHA-256 identifying one attribution."""
    blob = json.dumps(
        {
            "v": CACHE_VERSION,
            "model": model_id,
            "method": method,
            "steps": steps,
            "full_object": full_object,
            "query": [query.prefix, query.answer, query.suffix, query.space],
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class DiskCache:
    """A size-bounded directory of safetensors files, evicted least-recently-used first.

    ``max_bytes`` bounds the total size after each write (the file just written is kept
    even when it alone exceeds the bound). Unreadable files count as misses and are removed.
    """

    SUFFIX = ".safetensors"

    def __init__(self, directory: str | Path, max_bytes: int = 2 * 1024**3) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{self.SUFFIX}"

    def get(self, key: str) -> tuple[torch.Tensor, float] | None:
        from safetensors import safe_open

        path = self.path(key)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                raw = f.get_tensor("raw")
                base_prob = float(f.metadata()["base_prob"])
        except Exception:  # truncated or foreign file: drop it, recompute
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # mark as recently used
        return raw, base_prob

    def put(self, key: str, raw: torch.Tensor, base_prob: float) -> None:
        from safetensors.torch import save_file

        path = self.path(key)
        tensors, meta = {"raw": raw.contiguous()}, {"base_prob": repr(float(base_prob))}
        atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
        self.evict(keep=path)

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{self.SUFFIX}"))

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files() if p.exists())

    def evict(self, keep: Path | None = None) -> None:
        """Delete the least recently used files until the total is within ``max_bytes``."""
        entries = []
        for p in self.files():
            try:
                st = p.stat()
            except FileNotFoundError:  # removed by a concurrent process
                continue
            entries.append((st.st_mtime_ns, p, st.st_size))
        total = sum(e[2] for e in entries)
        for _, p, size in sorted(entries, key=lambda e: (e[0], e[1].name)):
            if total <= self.max_bytes:
                break
            if keep is not None and p == keep:
                continue
            p.unlink(missing_ok=True)
            total -= size


@dataclass
class ProviderStats:
    """How each attribution request was served."""

    computed: int = 0  # engine calls (gradients)
    memory_hits: int = 0
    disk_hits: int = 0
    by_method: dict[str, int] = field(default_factory=dict)  # engine calls per method


class EngineProvider:
    """:class:`~harness.localizers.base.AttributionProvider` backed by the attribution engine.

    Args:
        adapter: from :func:`harness.adapters.get_adapter`.
        model_id: names the weights in disk-cache keys (default: the config's
            ``_name_or_path``); required with ``cache_dir`` when the config has none.
        steps: the default ``M`` (Riemann steps) when a localizer passes ``steps=None``.
        full_object: score all object tokens (see :func:`harness.attribution.attribute`).
        max_rows: rows per batched forward pass in the engine.
        cache_dir, max_cache_bytes: the optional on-disk cache.
        methods: override or extend the attribution methods (name -> :data:`MethodFn`).
        max_memory_bytes: bound of the in-memory cache (least recently used dropped first).
    """

    def __init__(
        self,
        adapter: ModelAdapter,
        model_id: str | None = None,
        steps: int = 20,
        full_object: bool = False,
        max_rows: int = 256,
        cache_dir: str | Path | None = None,
        max_cache_bytes: int = 2 * 1024**3,
        methods: Mapping[str, MethodFn] | None = None,
        max_memory_bytes: int = 4 * 1024**3,
    ) -> None:
        self.adapter = adapter
        if model_id is None:
            config = getattr(getattr(adapter, "model", None), "config", None)
            model_id = str(getattr(config, "_name_or_path", "") or "")
        if cache_dir is not None and not model_id:
            raise ValueError("an on-disk attribution cache needs a model_id naming the weights")
        self.model_id = model_id
        self.steps = steps
        self.full_object = full_object
        self.max_rows = max_rows
        self.methods: dict[str, MethodFn] = {**DEFAULT_METHODS, **dict(methods or {})}
        self.disk = DiskCache(cache_dir, max_cache_bytes) if cache_dir is not None else None
        self.max_memory_bytes = max_memory_bytes
        self._memory: OrderedDict[str, tuple[torch.Tensor, float]] = OrderedDict()
        self._memory_bytes = 0
        self.stats = ProviderStats()

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.adapter.n_layers), int(self.adapter.n_neurons))

    def clear(self) -> None:
        """Forget the in-memory attributions (call between facts)."""
        self._memory.clear()
        self._memory_bytes = 0

    def _get(self, query: ClozeQuery, method: str, steps: int | None) -> tuple[torch.Tensor, float]:
        if method not in self.methods:
            raise ValueError(f"unknown attribution method {method!r}; valid: {', '.join(self.methods)}")
        steps = self.steps if steps is None else int(steps)
        key = cache_key(self.model_id, method, steps, self.full_object, query)
        hit = self._memory.get(key)
        if hit is not None:
            self.stats.memory_hits += 1
            self._memory.move_to_end(key)
            return hit
        found = self.disk.get(key) if self.disk is not None else None
        if found is not None:
            self.stats.disk_hits += 1
        else:
            raw, base_prob = self.methods[method](self.adapter, query, steps, self.full_object, self.max_rows)
            found = (raw.detach().float().cpu(), float(base_prob))
            self.stats.computed += 1
            self.stats.by_method[method] = self.stats.by_method.get(method, 0) + 1
            if self.disk is not None:
                self.disk.put(key, *found)
        self._remember(key, found)
        return found

    def _remember(self, key: str, entry: tuple[torch.Tensor, float]) -> None:
        self._memory[key] = entry
        self._memory_bytes += entry[0].nbytes
        while self._memory_bytes > self.max_memory_bytes and len(self._memory) > 1:
            _, (old, _) = self._memory.popitem(last=False)
            self._memory_bytes -= old.nbytes

    def attribute(
        self, query: ClozeQuery, method: str = "saig", *, steps: int | None = None, normalized: bool = True
    ) -> torch.Tensor:
        """``[L, N]`` float32 CPU scores; a fresh tensor (callers may modify it)."""
        from harness.attribution.normalize import normalize_per_layer

        raw, _ = self._get(query, method, steps)
        return normalize_per_layer(raw) if normalized else raw.clone()

    def base_probability(self, query: ClozeQuery, method: str = "saig", *, steps: int | None = None) -> float:
        """``P(answer)`` on the real query, from the same (cached) computation."""
        return self._get(query, method, steps)[1]


class StaticProvider:
    """A provider over precomputed score tensors, for tests and offline analysis.

    ``scores[(query, method)]`` is returned as is (whatever ``steps`` and ``normalized``);
    ``calls`` counts the requests.
    """

    def __init__(self, scores: Mapping[tuple[ClozeQuery, str], torch.Tensor]) -> None:
        if not scores:
            raise ValueError("StaticProvider needs at least one score tensor")
        self.scores = dict(scores)
        shapes = {tuple(t.shape) for t in self.scores.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"all score tensors must share one [L, N] shape, got {sorted(shapes)}")
        self._shape: tuple[int, int] = next(iter(shapes))  # type: ignore[assignment]
        self.calls = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    def attribute(
        self, query: ClozeQuery, method: str = "saig", *, steps: int | None = None, normalized: bool = True
    ) -> torch.Tensor:
        self.calls += 1
        try:
            return self.scores[(query, method)].clone().float()
        except KeyError:
            raise KeyError(f"no {method!r} scores for query {query.prefix!r}") from None
