"""Benchmark: the attribution engine against two reference implementations.

* **plain**: ``tests/attribution/reference.py::reference_attribution``: one full forward and
  backward pass of the whole input per (layer, baseline, Riemann step);
* **batched**: ``reference.py::batched_steps_attribution``: one forward and backward pass per
  (layer, baseline) with the ``M`` steps as a batch of ``M`` copies of the input, the way the
  public knowledge-neuron libraries do it.

SAIG over every query token, M = 20 (``--steps``), random queries of each prompt length, on
randomly initialized models whose proportions (LM head against body per token) are those of
the paper's models; see ``--model``. Each implementation gets one warm-up call, then
``--runs`` timed calls, interleaved (engine, batched, plain, engine, ...) so that the load of
a shared machine falls on all three alike; the table shows the median CPU time and wall time
and the ratios of the medians. The plain reference does exactly one pass per step, so its
time is linear in M by construction: it is timed at ``--plain-steps`` (default 4) and scaled
to M (the column says so); ``--plain-steps 20`` times it in full.

Exactness: the largest |engine − reference| relative to max |reference|, against the batched
reference at M and against the plain one at ``--plain-steps``.

Peak memory (largest over the timed runs, MiB above what was in use before the call): on
CUDA ``torch.cuda.max_memory_allocated``; on CPU the peak resident set of the process (Linux
``VmHWM``, reset before each call through ``/proc/self/clear_refs``, with glibc's mmap
threshold fixed so that freed buffers leave the resident set; see ``fix_malloc_trim``).
The plain reference's peak is at ``--plain-steps``, which does not change it (one step at a
time).

Run::

    python benchmarks/bench_attribution.py --model causal --threads 1
    python benchmarks/bench_attribution.py --model masked --threads 1
    python benchmarks/bench_attribution.py --model causal --device cuda --dtype bfloat16 --runs 5
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.adapters import get_adapter  # noqa: E402
from harness.adapters.tiny import tiny_model  # noqa: E402
from harness.attribution import EncodedQuery, attribute  # noqa: E402
from harness.attribution import baselines as shared_passes  # noqa: E402

# name: (family, config overrides, what it stands for). Head/body = the LM head's FLOPs per
# token over the body's, V / (12 L d) for these blocks: mGPT (d 2048, L 24, V 100k) 0.17,
# mBERT (d 768, L 12, V 119.5k) 1.08.
MODELS: dict[str, tuple[str, dict[str, Any], str]] = {
    "causal": (
        "gpt2",
        {"n_layer": 12, "n_embd": 256, "n_head": 4, "n_inner": 1024, "vocab_size": 6400, "n_positions": 256},
        "GPT-2, L 12, d 256, V 6400: mGPT's head/body ratio (0.17)",
    ),
    "masked": (
        "bert",
        {
            "num_hidden_layers": 12,
            "hidden_size": 256,
            "num_attention_heads": 4,
            "intermediate_size": 1024,
            "vocab_size": 40000,
            "max_position_embeddings": 256,
        },
        "BERT, L 12, d 256, V 40000: mBERT's head/body ratio (1.08)",
    ),
    "causal-head-heavy": (
        "gpt2",
        {"n_layer": 6, "n_embd": 256, "n_head": 8, "n_inner": 1024, "vocab_size": 50257, "n_positions": 256},
        "GPT-2, L 6, d 256, V 50257: head/body 2.7, the head dominates (the earlier benchmark model)",
    ),
}


def load_reference() -> Any:
    path = REPO / "tests" / "attribution" / "reference.py"
    spec = importlib.util.spec_from_file_location("attribution_reference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_adapter(name: str, device: str, dtype: torch.dtype) -> Any:
    family, overrides, _ = MODELS[name]
    model, tok = tiny_model(family, seed=0, dtype=dtype, initializer_range=0.02, **overrides)
    return get_adapter(model.to(device), tok)


def random_query(adapter: Any, length: int, seed: int = 0) -> EncodedQuery:
    """``length`` query tokens and a one-token answer: a causal prompt (no BOS), or
    ``[CLS] x_1 .. x_T [MASK] [SEP]`` for a masked model."""
    g = torch.Generator().manual_seed(seed)
    vocab = adapter.model.config.vocab_size
    words = torch.randint(10, vocab, (length,), generator=g)
    answer = torch.randint(10, vocab, (1,), generator=g)
    if adapter.is_causal:
        ids, target, own = words, length - 1, torch.arange(length)
    else:
        tok = adapter.tokenizer
        cls, tail = torch.tensor([tok.cls_token_id]), torch.tensor([tok.mask_token_id, tok.sep_token_id])
        ids = torch.cat([cls, words, tail])
        target, own = length + 1, torch.arange(1, length + 1)
    return EncodedQuery(
        input_ids=ids,
        target_position=target,
        answer_positions=torch.tensor([target]),
        answer_ids=answer,
        object_ids=answer,
        token_positions=own,
        is_causal=adapter.is_causal,
        full_object=False,
    )


def _status_kib(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` (Linux), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def fix_malloc_trim() -> None:
    """glibc raises its mmap threshold as large blocks are freed, after which freed buffers
    stay resident and a later call's peak hides in them; a fixed 128 KiB threshold returns
    every large buffer on free, so the resident set follows the live tensors."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD (fixing it disables the dynamic one)
        libc.mallopt(-1, 128 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, float, float, torch.Tensor]:
    """(CPU seconds of this process, wall seconds, peak memory in MiB, result). Peak memory:
    on CUDA the most allocated by tensors during the call above what was allocated before
    it; on CPU the peak resident set during the call above the resident set before it
    (Linux: the peak is reset through ``/proc/self/clear_refs``; NaN elsewhere)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak resident set (VmHWM) to the current one
            base = _status_kib("VmRSS") * 1024
        except OSError:
            base = None
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        peak = float("nan") if base is None else (_status_kib("VmHWM") * 1024 - base) / 2**20
    return cpu, wall, peak, out.cpu()


def rel_diff(a: torch.Tensor, ref: torch.Tensor) -> float:
    return (a - ref).abs().max().item() / ref.abs().max().item()


def bench_length(adapter: Any, ref: Any, length: int, args: argparse.Namespace) -> dict[str, Any]:
    device = adapter.device
    enc = random_query(adapter, length)

    def engine(steps: int = args.steps) -> torch.Tensor:
        shared_passes._MEMO.clear()  # time the baseline passes too, as for a new query
        return attribute(adapter, enc, "saig", steps, max_rows=args.max_rows, normalize=False).raw

    impls: dict[str, Callable[[], torch.Tensor]] = {
        "engine": engine,
        "batched": lambda: ref.batched_steps_attribution(adapter, enc, "saig", args.steps),
    }
    if not args.no_plain:
        impls["plain"] = lambda: ref.reference_attribution(adapter, enc, "saig", args.plain_steps)
    # warm-up: every implementation once (the references with few steps), outside the timing
    timed(engine, device)
    timed(lambda: ref.batched_steps_attribution(adapter, enc, "saig", 2), device)
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in impls}
    outs: dict[str, torch.Tensor] = {}
    for _ in range(args.runs):
        for name, fn in impls.items():
            cpu, wall, peak, outs[name] = timed(fn, device)
            times[name].append((cpu, wall, peak))
    med = {
        k: (statistics.median(c for c, _, _ in v), statistics.median(w for _, w, _ in v))
        for k, v in times.items()
    }
    peaks = {k: max(p for _, _, p in v) for k, v in times.items()}  # the largest over the runs
    if "plain" in med:  # one pass per step: linear in M
        scale = args.steps / args.plain_steps
        med["plain"] = (med["plain"][0] * scale, med["plain"][1] * scale)
    row = {
        "T": length,
        "rows": adapter.n_layers * len(enc.token_positions) * args.steps,
        "med": med,
        "peak": peaks,
    }
    row["diff_batched"] = rel_diff(outs["engine"], outs["batched"])
    if "plain" in outs:
        row["diff_plain"] = rel_diff(engine(args.plain_steps).cpu(), outs["plain"])
    return row


def report(row: dict[str, Any]) -> str:
    med = row["med"]
    fc, fw = med["engine"]
    parts = [f"| {row['T']} | {row['rows']} | {fc:.2f} / {fw:.2f}"]
    for name in ("batched", "plain"):
        if name in med:
            c, w = med[name]
            parts.append(f"{c:.2f} / {w:.2f} | **{c / fc:.1f}×** / {w / fw:.1f}×")
        else:
            parts.append("– | –")
    diffs = f"{row['diff_batched']:.1e}" + (f", {row['diff_plain']:.1e}" if "diff_plain" in row else "")
    peak = row["peak"]
    peaks = " / ".join(f"{max(peak[k], 0):.0f}" for k in ("engine", "batched", "plain") if k in peak)
    return " | ".join(parts) + f" | {diffs} | {peaks} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="causal")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "tf32", "bfloat16", "float16"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 20], help="query lengths T")
    parser.add_argument("--steps", type=int, default=20, help="M")
    parser.add_argument("--plain-steps", type=int, default=4, help="M for timing the plain reference")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain reference")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per implementation (median)")
    parser.add_argument("--max-rows", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    fix_malloc_trim()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.dtype == "tf32":  # float32 weights, TF32 tensor-core matmuls
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dtype = torch.float32 if args.dtype == "tf32" else getattr(torch, args.dtype)
    adapter = make_adapter(args.model, args.device, dtype)
    ref = load_reference()
    scale = args.steps / args.plain_steps
    plain = "plain" if args.no_plain else f"plain (timed at M = {args.plain_steps}, ×{scale:g})"
    print(
        f"# {MODELS[args.model][2]}\n# device={args.device} dtype={args.dtype} torch threads="
        f"{torch.get_num_threads()} max_rows={args.max_rows} M={args.steps} SAIG runs={args.runs} "
        f"(median) torch {torch.__version__} {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"| T | rows | engine CPU / wall s | batched CPU / wall s | ratio CPU / wall | {plain} CPU / wall s"
        " | ratio CPU / wall | max diff / max ref (batched, plain) | peak MiB (engine / batched / plain) |"
    )
    print("| --- " * 9 + "|")
    for length in args.lengths:
        print(report(bench_length(adapter, ref, length, args)), flush=True)


if __name__ == "__main__":
    main()
