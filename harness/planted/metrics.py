"""Scores of a localizer against planted ground truth, and their uncertainty.

* precision, recall, F1 of the selected set against the agnostic neurons;
* average precision of a full ranking of all ``L · N`` neurons (non-interpolated:
  ``AP = (1/R) Σ_{relevant k} precision@rank(k)``);
* the AP a uniformly random ranking reaches on average (Bestgen 2015):
  ``E[AP] = H_n / n + (R − 1)(n − H_n) / (n (n − 1))`` with ``H_n`` the n-th harmonic
  number: for R = 3 relevant of n = 2048 it is 0.0050, not the base rate R/n = 0.0015.

A random ranking's AP is heavily right-skewed (one relevant neuron drawn near the top
lifts it many-fold), so the mean over a dozen facts usually lies *below* ``E[AP]``, and a
bootstrap interval of a random localizer's mean can miss it. What a random localizer
should be compared with is :func:`chance_mean_ap_range`: the range of the mean over the
same facts under random rankings, simulated.

Intervals over facts come from :mod:`harness.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np


def precision_recall_f1(selected: Collection, relevant: Collection) -> tuple[float, float, float]:
    """Precision (nan when nothing is selected), recall (nan when nothing is relevant), F1
    (0 when either is 0 or nan and the other is not)."""
    sel, rel = set(selected), set(relevant)
    hit = len(sel & rel)
    p = hit / len(sel) if sel else float("nan")
    r = hit / len(rel) if rel else float("nan")
    if math.isnan(r):
        return p, r, float("nan")
    pz, rz = (0.0 if math.isnan(p) else p), r
    return p, r, (2 * pz * rz / (pz + rz) if pz + rz > 0 else 0.0)


def average_precision(ranking: Sequence, relevant: Collection) -> float:
    """AP of ``ranking`` (every item, best first) against ``relevant``; relevant items
    missing from the ranking count as ranked last (precision 0)."""
    rel = set(relevant)
    if not rel:
        return float("nan")
    hits, total = 0, 0.0
    for rank, item in enumerate(ranking, 1):
        if item in rel:
            hits += 1
            total += hits / rank
            if hits == len(rel):
                break
    return total / len(rel)


def chance_ap(n: int, relevant: int) -> float:
    """Expected AP of a uniformly random ranking of ``n`` items with ``relevant`` of them
    relevant (exact)."""
    if relevant < 1 or n < relevant:
        raise ValueError(f"chance_ap needs 1 <= relevant <= n, got {relevant}, {n}")
    h = sum(1.0 / i for i in range(1, n + 1))
    if n == 1:
        return 1.0
    return h / n + (relevant - 1) * (n - h) / (n * (n - 1))


def random_ap_draws(n: int, relevant: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``[draws]`` APs of uniformly random rankings of ``n`` items with ``relevant`` of them
    relevant: the relevant items' ranks ``r_(1) < … < r_(R)`` give ``AP = (1/R) Σ_i i / r_(i)``."""
    if relevant < 1 or n < relevant:
        raise ValueError(f"random_ap_draws needs 1 <= relevant <= n, got {relevant}, {n}")
    ranks = rng.integers(1, n + 1, size=(draws, relevant))
    while True:  # redraw rows with a repeated rank: uniform over sets of distinct ranks
        ranks.sort(axis=1)
        bad = (np.diff(ranks, axis=1) == 0).any(axis=1) if relevant > 1 else np.zeros(draws, bool)
        if not bad.any():
            break
        ranks[bad] = rng.integers(1, n + 1, size=(int(bad.sum()), relevant))
    return (np.arange(1, relevant + 1) / ranks).mean(axis=1)


def chance_mean_ap_range(
    facts: Sequence[tuple[int, int]], draws: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """The central ``confidence`` range of the mean AP over ``facts`` (each ``(n, relevant)``)
    when every fact's ranking is uniformly random (simulated, seeded)."""
    if not facts:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.mean([random_ap_draws(n, r, draws, rng) for n, r in facts], axis=0)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
