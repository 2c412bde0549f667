"""Token and cost accounting: estimates before a build (``--dry-run``), totals after it.

Prices are USD per million tokens, list prices when this was written; check
https://platform.claude.com/docs/en/about-claude/pricing before a large build. Cache writes
cost 1.25× and cache reads 0.1× the input price; the Message Batches API halves everything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# model id -> (input, output) USD per million tokens
PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-5-5": (4.0, 20.0),
    "claude-sonnet-5-5": (2.0, 10.0),
    "claude-haiku-5-5": (0.10, 0.50),
    "claude-opus-5": (5.0, 25.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-opus-20240229": (15.0, 75.0),  # the paper's model, retired
}
CACHE_WRITE, CACHE_READ, BATCH = 1.25, 0.10, 0.5

# Output of one request when no answer is known yet: the templates themselves and the
# model's adaptive thinking, which is billed as output.
OUTPUT_TOKENS_PER_TEMPLATE = 40
THINKING_TOKENS = 1500


def price(model: str) -> tuple[float, float] | None:
    if model in PRICES:
        return PRICES[model]
    base = next((m for m in PRICES if model.startswith(m + "-")), None)  # dated snapshots
    return PRICES[base] if base else None


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: ~4 ASCII characters a token, ~1.5 others."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return int(ascii_chars / 4 + (len(text) - ascii_chars) / 1.5) + 1


def cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_write: int = 0,
    cache_read: int = 0,
    batch: bool = False,
) -> float | None:
    p = price(model)
    if p is None:
        return None
    usd = (input_tokens + cache_write * CACHE_WRITE + cache_read * CACHE_READ) * p[0] / 1e6
    usd += output_tokens * p[1] / 1e6
    return usd * (BATCH if batch else 1.0)


@dataclass
class UsageTally:
    """Tokens and cost of the requests actually sent (cache hits cost nothing)."""

    requests: int = 0
    cached: int = 0  # answered from the cache
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    usd: float = 0.0
    unpriced: set[str] = field(default_factory=set)  # models without a known price
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, model: str, usage: dict, batch: bool = False) -> None:
        i = int(usage.get("input_tokens") or 0)
        o = int(usage.get("output_tokens") or 0)
        w = int(usage.get("cache_creation_input_tokens") or 0)
        r = int(usage.get("cache_read_input_tokens") or 0)
        usd = cost(model, i, o, w, r, batch)
        with self._lock:
            self.requests += 1
            self.input_tokens += i
            self.output_tokens += o
            self.cache_write_tokens += w
            self.cache_read_tokens += r
            if usd is None:
                self.unpriced.add(model)
            else:
                self.usd += usd

    def summary(self) -> str:
        usd = f"${self.usd:.2f}" + (
            f" (no price for {', '.join(sorted(self.unpriced))})" if self.unpriced else ""
        )
        return (
            f"{self.requests} requests sent, {self.cached} answered from the cache, "
            f"{self.failed} failed; tokens: {self.input_tokens} input, {self.output_tokens} "
            f"output, {self.cache_write_tokens} cache writes, {self.cache_read_tokens} cache "
            f"reads; cost {usd}"
        )


@dataclass(frozen=True)
class Estimate:
    requests: int  # first-round requests not in the cache
    cached: int
    repair_requests: int  # at most this many more, if every repair round is needed
    input_tokens: int
    output_tokens: int
    usd: float | None
    usd_with_repairs: float | None

    def summary(self, model: str, batch: bool) -> str:
        def money(v):
            return "unknown (no price for this model)" if v is None else f"${v:.2f}"

        return (
            f"{self.requests} requests to {model} ({self.cached} already cached), at most "
            f"{self.repair_requests} repair requests more; about {self.input_tokens} input "
            f"and {self.output_tokens} output tokens; cost about {money(self.usd)}, at most "
            f"{money(self.usd_with_repairs)} with every repair round"
            + (" (Message Batches: half price)" if batch else "")
        )


def estimate(
    model: str, prompts: list[tuple[str, str, int]], cached: int, rounds: int, batch: bool
) -> Estimate:
    """``prompts``: (system, user, templates asked) of each first-round request to send.

    The system prompt is shared: its first use writes the prompt cache, later ones read it
    (within the cache's lifetime, so this is the best case)."""
    inp = out = write = read = 0
    for n, (system, user, asked) in enumerate(prompts):
        s = estimate_tokens(system)
        inp += estimate_tokens(user)
        write, read = (write + s, read) if n == 0 else (write, read + s)
        out += THINKING_TOKENS + OUTPUT_TOKENS_PER_TEMPLATE * asked
    usd = cost(model, inp, out, write, read, batch)
    # a repair request is about as long as a first one
    total = None if usd is None else usd * (1 + rounds)
    return Estimate(len(prompts), cached, len(prompts) * rounds, inp + write + read, out, usd, total)
