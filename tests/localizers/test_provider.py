"""The attribution provider: one engine call per (query, method, steps), shared by every
localizer; the in-memory and on-disk caches."""

from __future__ import annotations

import os
import time
import zlib

import pytest
import torch
from localizer_synth import query

from harness.localizers import (
    DiskCache,
    EngineProvider,
    Fact,
    build_localizer,
    cache_key,
    run_localizers,
)

SHAPE = (3, 6)


class FakeAdapter:
    n_layers, n_neurons = SHAPE
    model = None


class CountingMethod:
    """A stand-in for the engine: deterministic scores per query, counts its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, adapter, q, steps, full_object, max_rows):
        self.calls.append((q.prefix, steps))
        g = torch.Generator().manual_seed(zlib.crc32(q.prefix.encode()))
        raw = torch.randn(SHAPE, generator=g)
        raw[0, 1] = 5.0  # a stable, strong neuron
        return raw, 0.5


def make_provider(tmp_path=None, **kw):
    saig, amig, ig = CountingMethod(), CountingMethod(), CountingMethod()
    provider = EngineProvider(
        FakeAdapter(), model_id="fake", steps=4, methods={"saig": saig, "amig": amig, "ig": ig},
        cache_dir=tmp_path, **kw,
    )  # fmt: skip
    return provider, saig, amig, ig


def make_fact() -> Fact:
    return Fact("f", "P36", {lang: tuple(query(lang, i) for i in range(3)) for lang in ("en", "zh", "fr")})


ALL = ("matrice", "matrice-no-uaq", "matrice-no-ual", "random", "amig", "kn")


def test_localizers_share_one_computation_per_query_and_method():
    provider, saig, amig, ig = make_provider()
    fact = make_fact()
    results = run_localizers(fact, provider, {name: build_localizer(name) for name in ALL})
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert len(saig.calls) == 9  # 3 languages x 3 queries, for matrice, both ablations and random
    assert len(amig.calls) == 9
    assert len(ig.calls) == 3  # kn: en only
    assert provider.stats.computed == 21
    assert provider.stats.by_method == {"saig": 9, "amig": 9, "ig": 3}
    assert provider.stats.memory_hits > 0
    assert (0, 1) in results["matrice"].as_tuples()


def test_normalized_and_raw_views_share_a_computation():
    provider, saig, _, _ = make_provider()
    q = query("en", 0)
    raw = provider.attribute(q, normalized=False)
    norm = provider.attribute(q)
    assert len(saig.calls) == 1
    assert torch.allclose(norm.abs().sum(1), torch.ones(SHAPE[0]))
    assert torch.allclose(norm, raw / raw.abs().sum(1, keepdim=True))
    raw[0, 0] = 1e9  # callers get a copy
    assert provider.attribute(q, normalized=False)[0, 0] != 1e9
    assert provider.base_probability(q) == 0.5


def test_steps_are_part_of_the_key_and_clear_forgets():
    provider, saig, _, _ = make_provider()
    q = query("en", 0)
    provider.attribute(q)
    provider.attribute(q, steps=4)  # the provider's default: same entry
    provider.attribute(q, steps=8)
    assert saig.calls == [(q.prefix, 4), (q.prefix, 8)]
    provider.clear()
    provider.attribute(q)
    assert len(saig.calls) == 3
    with pytest.raises(ValueError, match="unknown attribution method"):
        provider.attribute(q, "nope")


def test_disk_cache_survives_the_provider(tmp_path):
    first, saig, _, _ = make_provider(tmp_path)
    fact = make_fact()
    a = build_localizer("matrice").localize(fact, first)
    assert len(saig.calls) == 9 and len(DiskCache(tmp_path).files()) == 9
    second, saig2, _, _ = make_provider(tmp_path)
    b = build_localizer("matrice").localize(fact, second)
    assert saig2.calls == [] and second.stats.disk_hits == 9
    assert torch.equal(a.neurons, b.neurons) and torch.equal(a.scores, b.scores)
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]  # atomic writes left no temp files


def test_disk_cache_needs_a_model_id(tmp_path):
    with pytest.raises(ValueError, match="model_id"):
        EngineProvider(FakeAdapter(), cache_dir=tmp_path)


def test_cache_key_covers_model_method_steps_and_query():
    q = query("en", 0)
    base = cache_key("m", "saig", 20, False, q)
    assert base == cache_key("m", "saig", 20, False, query("en", 0))
    others = [
        cache_key("m2", "saig", 20, False, q),
        cache_key("m", "ig", 20, False, q),
        cache_key("m", "saig", 10, False, q),
        cache_key("m", "saig", 20, True, q),
        cache_key("m", "saig", 20, False, query("en", 1)),
    ]
    assert len({base, *others}) == 6


def test_disk_cache_evicts_least_recently_used(tmp_path):
    probe = DiskCache(tmp_path / "probe")
    probe.put("x", torch.zeros(SHAPE), 0.1)
    size = probe.size()
    cache = DiskCache(tmp_path / "c", max_bytes=3 * size)
    t0 = time.time() - 100
    for i, key in enumerate("abc"):
        cache.put(key, torch.full(SHAPE, float(i)), 0.1)
        os.utime(cache.path(key), (t0 + i, t0 + i))
    assert cache.get("a") is not None  # refreshes a: b is now the least recently used
    cache.put("d", torch.ones(SHAPE), 0.2)
    assert {p.stem for p in cache.files()} == {"a", "c", "d"}
    assert cache.size() <= 3 * size
    raw, prob = cache.get("d")
    assert torch.equal(raw, torch.ones(SHAPE)) and prob == 0.2


def test_disk_cache_keeps_a_lone_oversized_file_and_drops_corrupt_ones(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=1)
    cache.put("big", torch.zeros(SHAPE), 0.3)
    assert cache.get("big") is not None
    cache.path("bad").write_bytes(b"not a safetensors file")
    assert cache.get("bad") is None and not cache.path("bad").exists()


def test_memory_cache_is_bounded():
    entry = torch.zeros(SHAPE).nbytes
    provider, saig, _, _ = make_provider(max_memory_bytes=2 * entry)
    a, b, c = query("en", 0), query("en", 1), query("en", 2)
    for q in (a, b, a, c):  # a is refreshed, so c evicts b
        provider.attribute(q)
    assert len(saig.calls) == 3
    provider.attribute(a)
    assert len(saig.calls) == 3
    provider.attribute(b)
    assert len(saig.calls) == 4
