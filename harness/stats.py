"""Uncertainty for the numbers a run reports: 95 % bootstrap intervals over facts and paired
tests against a control, both seeded (scipy.stats.bootstrap / permutation_test).

The unit of resampling is the *fact*, never the query: the queries of one fact (its
paraphrases, its languages) share the fact's neurons and are not independent. A cell's value
is the mean over its queries (Eq. 14 averaged as the paper does), i.e. ``Σ_f s_f / Σ_f c_f``
with ``s_f`` the sum and ``c_f`` the number of the fact's queries; the interval resamples the
facts' ``(s_f, c_f)`` pairs (a cluster bootstrap), so the point estimate is unchanged.

A paired test compares two conditions on the *same* facts and queries (a localizer's
neurons and its own Random at the same count): the per-fact difference of the two means,
tested by flipping its sign at random (exact for up to 13 facts).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

CONFIDENCE = 0.95
N_RESAMPLES = 1999  # bootstrap resamples; 9999 permutations (exact when 2^n is smaller)
N_PERMUTATIONS = 9999


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95 % interval (NaN where it cannot be computed: fewer than 2 facts)
    and the facts and queries behind it."""

    value: float
    low: float
    high: float
    facts: int
    queries: int

    def as_dict(self, prefix: str) -> dict[str, float | int]:
        return {prefix: self.value, f"{prefix}_ci_low": self.low, f"{prefix}_ci_high": self.high}

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely on one side of 0 (False when it is NaN)."""
        return self.low > 0 or self.high < 0


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0, 0)


def _seed(seed: int | str) -> np.random.Generator:
    """A numpy generator from an int or a string (strings hash stably, not with hash())."""
    if isinstance(seed, str):
        seed = int.from_bytes(seed.encode(), "little") % (2**63)
    return np.random.default_rng(seed)


def cluster_mean(
    sums: Sequence[float],
    counts: Sequence[float],
    seed: int | str = 0,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
) -> Estimate:
    """``Σ sums / Σ counts`` with a BCa bootstrap interval resampling the (sum, count) pairs.

    Facts with count 0 are dropped. With one fact the interval is NaN; when every fact has
    the same mean the interval is that mean (no spread to resample).
    """
    s = np.asarray(sums, dtype=float)
    c = np.asarray(counts, dtype=float)
    if s.shape != c.shape:
        raise ValueError(f"sums and counts differ in length: {s.shape} vs {c.shape}")
    keep = c > 0
    s, c = s[keep], c[keep]
    if not len(s):
        return NAN_ESTIMATE
    value = float(s.sum() / c.sum())
    n_q = int(c.sum())
    if len(s) < 2 or not np.isfinite(s).all():
        return Estimate(value, math.nan, math.nan, len(s), n_q)
    if np.allclose(s / c, value, rtol=0, atol=1e-12):
        return Estimate(value, value, value, len(s), n_q)

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return a.sum(axis=axis) / b.sum(axis=axis)

    def interval(method: str) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate resamples: handled below
            res = _st.bootstrap(
                (s, c),
                ratio,
                paired=True,
                vectorized=True,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=_seed(seed),
            )
        return float(res.confidence_interval.low), float(res.confidence_interval.high)

    low, high = interval("BCa")
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa undefined: fall back to percentiles
        low, high = interval("percentile")
    return Estimate(value, low, high, len(s), n_q)


def mean_ci(
    values: Sequence[float],
    seed: int | str = 0,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
) -> Estimate:
    """The plain mean of per-fact values with its bootstrap interval (queries = facts)."""
    return cluster_mean(values, [1.0] * len(values), seed, confidence, n_resamples)


def paired_p_value(
    x: Sequence[float],
    y: Sequence[float],
    seed: int | str = 0,
    n_resamples: int = N_PERMUTATIONS,
) -> float:
    """Two-sided p-value of ``mean(x − y) = 0`` for paired per-fact values, by sign flips of
    the differences (``permutation_test(..., permutation_type="samples")``; exact when
    ``2^n <= n_resamples``). NaN with fewer than 2 pairs; 1.0 when every difference is 0."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2:
        return math.nan
    if np.allclose(a, b, rtol=0, atol=1e-15):
        return 1.0

    def mean_diff(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return (u - v).mean(axis=axis)

    res = _st.permutation_test(
        (a, b),
        mean_diff,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=_seed(seed),
    )
    return float(min(1.0, res.pvalue))


def area_under_curve(ks: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoid area under ``values`` over ``log2 k``, divided by the width of the k range:
    the mean effect over budgets, each doubling weighted alike. NaN if any point is missing."""
    k = np.log2(np.asarray(ks, dtype=float))
    v = np.asarray(values, dtype=float)
    if len(k) < 2 or not np.isfinite(v).all():
        return float(v[0]) if len(k) == 1 and np.isfinite(v).all() else math.nan
    order = np.argsort(k)
    k, v = k[order], v[order]
    return float(np.trapezoid(v, k) / (k[-1] - k[0]))
