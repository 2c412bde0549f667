"""How long localizing the whole dataset takes: a FLOP model of the attribution engine,
checked against counted FLOPs, and GPU-hour projections for mGPT and LLaMA-3-8B.

FLOP model (multiply-add = 2 FLOPs; only matrix products are counted, attention scores over
a 10–20 token prompt and the elementwise work are left out). Per token and block the forward
costs ``B = 2 (params of the block's matrices)``, the LM head ``H = 2 V d``. The engine takes
gradients with respect to the path points only, never the weights, so a backward costs what
the forward costs (one product per linear layer instead of two). A row of layer ``l`` runs
one token through blocks ``l .. L-1`` and the head, forward and backward:

    engine row         = 2 ((L - l) B + H)          averaged over l: 2 (((L + 1)/2) B + H)
    before this change = (L B + H) + ((L - l) B + H)   (every row through every block)
    baselines          = (T' + 1) · T · L · B          (body passes of the T-token sentences)
    prefix             = T · L · B + H                 (cached prefix, and P on the real tail)

SAIG (MATRICE) has ``L · T' · M`` rows per query, AMIG ``L · M`` (one path from the mean
baseline) and the same baseline passes. ``--check`` compares the model with
``torch.utils.flop_counter.FlopCounterMode`` on a random model.

Projection: ``GPU-hours = queries · FLOPs per query / (peak · η)``, where ``η`` is the share
of the peak the engine reaches. Without a GPU, ``η`` is bracketed: (a) ``η`` measured on this
CPU (the engine's FLOP rate over a large matrix product's on the same thread, ``--cpu``):
the work is a handful of large batched products, so this is what the same code reaches when
kernel launches cost nothing; (b) η = 0.15, what the previous engine reached in the one H200
measurement we have (0.52 s for one query at mGPT's body size, float32, including any
first-call overhead; docs/attribution.md). ``--gpu`` instead times ``attribute()`` on random
models of mGPT's and LLaMA-3-8B's exact shapes on the device and projects from the measured
time per query.

Run::

    python benchmarks/projection.py --check --cpu        # CPU: check the model, measure η
    python benchmarks/projection.py --gpu --dtype float32 # on a GPU (benchmarks/cuda_check.sh)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

QUERIES = 291_132  # queries in the built dataset (58,632 fact-language pairs, 7 languages)
MEAN_TOKENS = 10  # T': query tokens per query, estimated (see docs/attribution.md)
STEPS = 20  # M, the project's default

# H200 SXM dense peaks, FLOP/s (NVIDIA's data sheet halves the "with sparsity" figures)
H200_PEAK = {"float32": 67e12, "tf32": 495e12, "bfloat16": 989e12}


@dataclass(frozen=True)
class Shape:
    name: str
    layers: int
    d: int
    ffn: int  # N
    vocab: int
    kv_dim: int  # width of K and V (grouped-query attention: fewer than d)
    gated: bool  # LLaMA-style gate/up/down

    @property
    def block(self) -> float:
        """Forward FLOPs of one block per token (matrix products only)."""
        attn = 2 * self.d * self.d + 2 * self.d * self.kv_dim  # q, o and k, v
        mlp = (3 if self.gated else 2) * self.d * self.ffn
        return 2.0 * (attn + mlp)

    @property
    def head(self) -> float:
        return 2.0 * self.vocab * self.d


MGPT = Shape("mGPT (1.3B)", layers=24, d=2048, ffn=8192, vocab=100_000, kv_dim=2048, gated=False)
LLAMA3_8B = Shape("LLaMA-3-8B", layers=32, d=4096, ffn=14336, vocab=128_256, kv_dim=1024, gated=True)


def row_flops(s: Shape, skip_lower: bool = True) -> float:
    """Mean FLOPs of one (layer, baseline, step) row, forward and backward."""
    below_and_above = s.layers * s.block + s.head
    own_and_above = (s.layers + 1) / 2 * s.block + s.head
    return (own_and_above if skip_lower else below_and_above) + own_and_above


def query_flops(s: Shape, tokens: float, steps: int, method: str, skip_lower: bool = True) -> float:
    """FLOPs to attribute one query of ``tokens`` query tokens (prompt length = tokens)."""
    paths = tokens if method == "saig" else 1  # AMIG: one path from the mean baseline
    passes = (tokens + 1) * tokens * s.layers * s.block
    prefix = tokens * s.layers * s.block + s.head
    return s.layers * paths * steps * row_flops(s, skip_lower) + passes + prefix


def hours(s: Shape, method: str, rate: float, tokens: float = MEAN_TOKENS, steps: int = STEPS) -> float:
    return QUERIES * query_flops(s, tokens, steps, method) / rate / 3600


# ---- checks and measurements ------------------------------------------------------------


def bench_shape(adapter: Any) -> Shape:
    cfg = adapter.model.config
    d = adapter.d_model
    return Shape("bench", adapter.n_layers, d, adapter.n_neurons, cfg.vocab_size, d, gated=False)


def check(length: int = 10, steps: int = 4) -> None:
    """Counted FLOPs of attribute() against the model (the baseline passes memoized away
    by a first call, so the count is the rows and the prefix)."""
    from bench_attribution import make_adapter, random_query
    from torch.utils.flop_counter import FlopCounterMode

    from harness.attribution import attribute

    adapter = make_adapter("causal", "cpu", torch.float32)
    enc = random_query(adapter, length)
    s = bench_shape(adapter)
    for method in ("saig", "ig"):
        attribute(adapter, enc, method, steps)
        with FlopCounterMode(display=False) as fc:
            attribute(adapter, enc, method, steps)
        counted = fc.get_total_flops()
        paths = length if method == "saig" else 1
        model = s.layers * paths * steps * row_flops(s) + length * s.layers * s.block + s.head
        print(
            f"check {method}: counted {counted / 1e9:.3f} GFLOP, model {model / 1e9:.3f} GFLOP "
            f"(rows and prefix), ratio {counted / model:.3f}"
        )


def median_time(fn: Any, runs: int, device: torch.device) -> tuple[float, float]:
    """(median CPU s, median wall s) over ``runs`` calls after one warm-up call."""
    fn()
    cpu, wall = [], []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        c, w = time.process_time(), time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def cpu_efficiency(runs: int = 3, length: int = 10) -> float:
    """η on this CPU: the engine's FLOP rate over a large float32 matrix product's, on the
    same thread, by CPU time (the machine may be shared)."""
    from bench_attribution import make_adapter, random_query

    from harness.attribution import attribute
    from harness.attribution import baselines as shared

    adapter = make_adapter("causal", "cpu", torch.float32)
    enc = random_query(adapter, length)
    s = bench_shape(adapter)

    def engine() -> None:
        shared._MEMO.clear()
        attribute(adapter, enc, "saig", STEPS)

    cpu, wall = median_time(engine, runs, torch.device("cpu"))
    flops = query_flops(s, length, STEPS, "saig")
    a, b = torch.randn(256, s.d), torch.randn(s.d, 4 * s.d)  # the engine's typical product
    mm_cpu, _ = median_time(lambda: [a @ b for _ in range(200)], runs, torch.device("cpu"))
    peak = 200 * 2 * 256 * s.d * 4 * s.d / mm_cpu
    eta = flops / cpu / peak
    print(
        f"cpu: engine {cpu:.2f} s CPU ({wall:.2f} s wall) for {flops / 1e9:.1f} GFLOP = "
        f"{flops / cpu / 1e9:.1f} GFLOP/s; 256 x {s.d} x {4 * s.d} products {peak / 1e9:.1f} GFLOP/s; "
        f"η = {eta:.2f} (median of {runs}, threads={torch.get_num_threads()})"
    )
    return eta


def gpu_per_query(
    shape: Shape, dtype: torch.dtype, method: str, runs: int, max_rows: int, device: str = "cuda"
) -> tuple[float, float]:
    """(median wall seconds, peak GiB) of attribute() (or AMIG) for one query of MEAN_TOKENS
    tokens on a random model of ``shape`` on the GPU, after a full warm-up call. The peak is
    ``torch.cuda.max_memory_allocated`` over the calls, the weights included."""
    import transformers
    from bench_attribution import random_query

    from harness.adapters import get_adapter
    from harness.adapters.tiny import tiny_tokenizer
    from harness.attribution import attribute
    from harness.attribution import baselines as shared
    from harness.localizers.amig import amig_attribution

    if shape.gated:
        cfg = transformers.LlamaConfig(
            vocab_size=shape.vocab,
            hidden_size=shape.d,
            intermediate_size=shape.ffn,
            num_hidden_layers=shape.layers,
            num_attention_heads=shape.d // 128,
            num_key_value_heads=shape.kv_dim // 128,
            max_position_embeddings=256,
            tie_word_embeddings=False,
        )
        cls, family = transformers.LlamaForCausalLM, "llama"
    else:
        cfg = transformers.GPT2Config(
            vocab_size=shape.vocab,
            n_embd=shape.d,
            n_inner=shape.ffn,
            n_layer=shape.layers,
            n_head=shape.d // 128,
            n_positions=256,
            bos_token_id=0,
            eos_token_id=0,
        )
        cls, family = transformers.GPT2LMHeadModel, "gpt2"
    with torch.device(device):
        model = cls._from_config(cfg, dtype=dtype).eval()
    adapter = get_adapter(model, tiny_tokenizer(family))
    enc = random_query(adapter, MEAN_TOKENS)

    def run() -> None:
        shared._MEMO.clear()
        if method == "saig":
            attribute(adapter, enc, "saig", STEPS, max_rows=max_rows)
        else:
            amig_attribution(adapter, enc, steps=STEPS, max_rows=max_rows)

    torch.cuda.reset_peak_memory_stats()
    wall = median_time(run, runs, torch.device(device))[1]
    return wall, torch.cuda.max_memory_allocated() / 2**30  # the model is freed on return


def print_flop_projection(etas: dict[str, float]) -> None:
    print(
        f"\nFLOP projection: {QUERIES:,} queries, T' = {MEAN_TOKENS} tokens, M = {STEPS}; "
        "H200 dense peaks; GPU-hours = queries x FLOPs / (peak x η)"
    )
    for s in (MGPT, LLAMA3_8B):
        old = query_flops(s, MEAN_TOKENS, STEPS, "saig", skip_lower=False)
        new = query_flops(s, MEAN_TOKENS, STEPS, "saig")
        print(
            f"{s.name}: SAIG {new / 1e12:.1f} TFLOP/query (before: {old / 1e12:.1f}, {old / new:.2f}x), "
            f"AMIG {query_flops(s, MEAN_TOKENS, STEPS, 'amig') / 1e12:.2f} TFLOP/query"
        )
        for dtype, peak in H200_PEAK.items():
            cells = [
                f"{label} {hours(s, m, peak * eta):7.1f} h"
                for label, eta in etas.items()
                for m in ("saig", "amig")
            ]
            print(f"  {dtype:>8}: " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the FLOP model by counting")
    parser.add_argument("--cpu", action="store_true", help="measure η on this CPU")
    parser.add_argument("--gpu", action="store_true", help="time random mGPT / LLaMA-3-8B on the GPU")
    parser.add_argument("--dtype", default="float32", choices=["float32", "tf32", "bfloat16"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.check:
        check()
    etas = {"η=1": 1.0, "η=0.15": 0.15}
    if args.cpu:
        etas = {"η=1": 1.0, "η=cpu": cpu_efficiency(args.runs), "η=0.15": 0.15}
    print_flop_projection(etas)
    if args.gpu:
        torch.backends.cuda.matmul.allow_tf32 = args.dtype == "tf32"
        dtype = torch.float32 if args.dtype == "tf32" else getattr(torch, args.dtype)
        print(
            f"\nmeasured on {torch.cuda.get_device_name()}, {args.dtype}, max_rows {args.max_rows}, "
            f"median of {args.runs} after a full warm-up call:"
        )
        for s in (MGPT, LLAMA3_8B):
            for method in ("saig", "amig"):
                t, peak = gpu_per_query(s, dtype, method, args.runs, args.max_rows)
                torch.cuda.empty_cache()
                rate = query_flops(s, MEAN_TOKENS, STEPS, method) / t
                eta = rate / H200_PEAK[args.dtype]
                print(
                    f"  {s.name} {method}: {t:.3f} s/query -> {QUERIES * t / 3600:,.1f} GPU-hours "
                    f"for the dataset ({rate / 1e12:.0f} TFLOP/s achieved, η = {eta:.2f}; "
                    f"peak {peak:.1f} GiB allocated, weights included)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
