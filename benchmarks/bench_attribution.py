"""Benchmark: the fast attribution engine against the plain reference implementation.

The reference (``tests/attribution/reference.py``) runs, for every layer, baseline and
Riemann step, one full forward and backward pass of the whole query. The engine caches the
prefix, batches (layer, baseline, step) rows and takes one backward per chunk.

Main case: a randomly initialized GPT-2 (6 layers, n_embd 256, n_inner 1024, GPT-2's
vocabulary of 50257), a 10-token query, M = 20, SAIG over every query token. It prints the
time of both, their ratio, the largest difference (relative to the largest score) and peak
memory (process RSS above the level before the call, sampled every 2 ms, each
implementation in a fresh process; CUDA: ``max_memory_allocated``). Then a sweep over
query length and layer count, with fewer steps: both costs are linear in M, so the ratio
hardly depends on it.

Run::

    python benchmarks/bench_attribution.py            # main case + sweep
    python benchmarks/bench_attribution.py --no-sweep --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.adapters import get_adapter  # noqa: E402
from harness.adapters.tiny import tiny_model  # noqa: E402
from harness.attribution import EncodedQuery, attribute  # noqa: E402


def load_reference() -> Callable[..., torch.Tensor]:
    path = REPO / "tests" / "attribution" / "reference.py"
    spec = importlib.util.spec_from_file_location("attribution_reference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_attribution


def gpt2_adapter(n_layer: int, device: str, dtype: torch.dtype, n_embd: int = 256) -> Any:
    model, tok = tiny_model(
        "gpt2",
        seed=0,
        dtype=dtype,
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=max(n_embd // 64, 1) if n_embd != 256 else 8,
        n_inner=4 * n_embd,
        vocab_size=50257,
        n_positions=256,
        initializer_range=0.02,
    )
    return get_adapter(model.to(device), tok)


def random_query(length: int, vocab: int, seed: int = 0) -> EncodedQuery:
    """A causal query of ``length`` prompt tokens (no BOS) and a one-token answer."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (length,), generator=g)
    answer = torch.randint(10, vocab, (1,), generator=g)
    return EncodedQuery(
        input_ids=ids,
        target_position=length - 1,
        answer_positions=torch.tensor([length - 1]),
        answer_ids=answer,
        object_ids=answer,
        token_positions=torch.arange(length),
        is_causal=True,
        full_object=False,
    )


class PeakMemory:
    """Peak memory of the block above the level at its start, in MiB."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.peak_mib = 0.0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._rss())
            time.sleep(0.002)

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
        else:
            self._start = self._max = self._rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._max, self._rss())
        self.peak_mib = (peak - self._start) / 2**20


def measure(fn: Callable[[], torch.Tensor], device: torch.device) -> dict[str, Any]:
    with PeakMemory(device) as mem:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "mem": mem.peak_mib, "out": out.cpu()}


def _run_one(kind: str, n_layer: int, length: int, steps: int, args: argparse.Namespace) -> dict:
    """Build the model and run one implementation; meant for a fresh process, so that the
    memory figure is not hidden by what an earlier run left in the allocator."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    adapter = gpt2_adapter(n_layer, args.device, dtype, args.n_embd)
    enc = random_query(length, 50257)
    with torch.no_grad():  # lazy initialization outside the measurement
        adapter.forward(enc.input_ids[None, :2].to(device))
    if kind == "fast":
        return measure(
            lambda: attribute(adapter, enc, "saig", steps, max_rows=args.max_rows, normalize=False).raw,
            device,
        )
    reference = load_reference()
    return measure(lambda: reference(adapter, enc, "saig", steps), device)


def compare(n_layer: int, length: int, steps: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fast and reference, each in its own fresh process."""
    ctx = multiprocessing.get_context("spawn")
    out = {}
    for kind in ("fast", "ref"):
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            out[kind] = pool.submit(_run_one, kind, n_layer, length, steps, args).result()
    f, r = out["fast"]["out"], out["ref"]["out"]
    diff = (f - r).abs().max().item() / r.abs().max().item()
    return {"L": n_layer, "T": length, "M": steps, **out, "rel_diff": diff}


def report(row: dict[str, Any]) -> str:
    f, r = row["fast"], row["ref"]
    return (
        f"L={row['L']:>2} T={row['T']:>2} M={row['M']:>2} | "
        f"fast {f['wall']:7.2f} s wall {f['cpu']:7.2f} s cpu {f['mem']:7.1f} MiB | "
        f"ref {r['wall']:7.2f} s wall {r['cpu']:7.2f} s cpu {r['mem']:7.1f} MiB | "
        f"ratio {r['wall'] / f['wall']:5.1f}x wall {r['cpu'] / f['cpu']:5.1f}x cpu | "
        f"max|diff|/max|ref| {row['rel_diff']:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--steps", type=int, default=20, help="M for the main case")
    parser.add_argument("--layers", type=int, default=6, help="L for the main case")
    parser.add_argument("--length", type=int, default=10, help="query length T for the main case")
    parser.add_argument("--n-embd", type=int, default=256, help="width (n_inner = 4 x n_embd)")
    parser.add_argument("--sweep-steps", type=int, default=3, help="M for the sweep")
    parser.add_argument("--max-rows", type=int, default=256)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device={args.device} dtype={args.dtype} torch threads={torch.get_num_threads()} "
        f"max_rows={args.max_rows}; GPT-2 n_embd={args.n_embd} n_inner={4 * args.n_embd} "
        "vocab=50257, SAIG"
    )
    print("main case:")
    print("  " + report(compare(args.layers, args.length, args.steps, args)), flush=True)
    if args.no_sweep:
        return
    print("sweep over query length (L=6):")
    for length in (5, 10, 20):
        print("  " + report(compare(6, length, args.sweep_steps, args)), flush=True)
    print("sweep over layers (T=10):")
    for n_layer in (2, 6, 12):
        print("  " + report(compare(n_layer, 10, args.sweep_steps, args)), flush=True)


if __name__ == "__main__":
    main()
