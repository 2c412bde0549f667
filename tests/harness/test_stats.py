"""The statistics on synthetic per-fact records with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.stats import area_under_curve, cluster_mean, mean_ci, paired_p_value


def _facts(rng: np.random.Generator, n_facts: int, mu: float) -> tuple[list[float], list[float]]:
    """Facts with 2-6 queries each; a fact effect plus query noise around the true mean mu
    (equal-variance fact effects, so the query-weighted mean's expectation is mu)."""
    sums, counts = [], []
    for _ in range(n_facts):
        c = int(rng.integers(2, 7))
        fact = mu + rng.normal(0, 0.3)
        sums.append(float((fact + rng.normal(0, 0.2, c)).sum()))
        counts.append(c)
    return sums, counts


def test_point_estimate_is_the_query_weighted_mean():
    est = cluster_mean([1.0, 9.0], [1, 3], seed=0)
    assert est.value == pytest.approx(10 / 4)
    assert (est.facts, est.queries) == (2, 4)


def test_ci_covers_true_mean_at_nominal_rate_over_seeds():
    hits, n = 0, 200
    for seed in range(n):
        rng = np.random.default_rng(1000 + seed)
        est = cluster_mean(*_facts(rng, 30, mu=-0.2), seed=seed, n_resamples=999)
        assert est.low <= est.value <= est.high
        hits += est.low <= -0.2 <= est.high
    # nominal 95 %; with 200 seeds a correct interval lands in [0.90, 0.99] with >99 % probability
    assert 0.90 <= hits / n <= 0.99, hits / n


def test_ci_is_seeded_and_narrows_with_more_facts():
    rng = np.random.default_rng(7)
    small = _facts(rng, 10, 0.0)
    a, b = cluster_mean(*small, seed=3), cluster_mean(*small, seed=3)
    assert (a.low, a.high) == (b.low, b.high)
    big = _facts(np.random.default_rng(8), 200, 0.0)
    wide, narrow = cluster_mean(*small, seed=0), cluster_mean(*big, seed=0)
    assert narrow.high - narrow.low < wide.high - wide.low


def test_degenerate_inputs():
    assert math.isnan(cluster_mean([], []).value)
    one = cluster_mean([2.0], [4])
    assert one.value == 0.5 and math.isnan(one.low) and one.facts == 1
    same = mean_ci([0.3, 0.3, 0.3])
    assert same.low == same.high == pytest.approx(0.3)
    dropped = cluster_mean([1.0, 5.0], [1, 0])  # a fact without queries is no fact
    assert dropped.facts == 1 and dropped.value == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        cluster_mean([1.0], [1, 2])


def test_paired_test_rejects_a_planted_difference():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 12)  # per-fact difficulty, shared by both conditions
    x = base - 0.5 + rng.normal(0, 0.2, 12)
    assert paired_p_value(x, base, seed=0) < 0.01


def test_paired_test_holds_its_level_under_the_null():
    rejections, n = 0, 300
    for seed in range(n):
        rng = np.random.default_rng(seed)
        base = rng.normal(0, 1, 10)
        x, y = base + rng.normal(0, 0.3, 10), base + rng.normal(0, 0.3, 10)
        rejections += paired_p_value(x, y, seed=seed) < 0.05
    # level 0.05: 15 expected of 300; a correct test gives 5-27 with >99 % probability
    assert 5 / n <= rejections / n <= 27 / n, rejections


def test_paired_test_edge_cases():
    assert paired_p_value([1.0, 2.0], [1.0, 2.0]) == 1.0
    assert math.isnan(paired_p_value([1.0], [0.0]))
    assert math.isnan(paired_p_value([1.0, float("nan")], [0.0, 0.0]))  # 1 finite pair left
    # exact enumeration: 3 facts all better by the same sign -> smallest p = 2/8
    assert paired_p_value([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) == pytest.approx(0.25)


def test_area_under_curve():
    assert area_under_curve([5, 10, 20], [1.0, 1.0, 1.0]) == pytest.approx(1.0)
    # linear in log2 k from 0 to 1 over one doubling -> mean 0.5
    assert area_under_curve([10, 20], [0.0, 1.0]) == pytest.approx(0.5)
    assert math.isnan(area_under_curve([5, 10], [0.1, float("nan")]))
