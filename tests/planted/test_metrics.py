"""Scores against ground truth: each formula checked against a plain computation."""

from __future__ import annotations

import math
import random

import pytest

from harness.planted.metrics import average_precision, chance_ap, precision_recall_f1


def test_precision_recall_f1_by_hand():
    p, r, f1 = precision_recall_f1([1, 2, 3, 4], [2, 4, 9])
    assert (p, r) == (0.5, pytest.approx(2 / 3))
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_empty_selection_has_no_precision_and_zero_f1():
    p, r, f1 = precision_recall_f1([], [1, 2])
    assert math.isnan(p) and r == 0.0 and f1 == 0.0


def test_average_precision_by_hand():
    # relevant at ranks 1 and 3 of 5: (1/1 + 2/3) / 2
    assert average_precision(["a", "x", "b", "y", "z"], {"a", "b"}) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(["a", "b", "x"], {"a", "b"}) == 1.0
    # a relevant item missing from the ranking counts as precision 0
    assert average_precision(["a", "x"], {"a", "b"}) == pytest.approx(0.5)


def test_chance_ap_matches_simulation():
    n, rel = 60, 3
    rng = random.Random(0)
    items = list(range(n))
    sims = []
    for _ in range(20000):
        rng.shuffle(items)
        sims.append(average_precision(items, {0, 1, 2}))
    assert sum(sims) / len(sims) == pytest.approx(chance_ap(n, rel), rel=0.03)
    assert chance_ap(n, rel) > rel / n  # the chance level of AP is above the base rate


def test_chance_ap_edge_cases():
    assert chance_ap(1, 1) == 1.0
    assert chance_ap(5, 5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        chance_ap(3, 0)


def test_random_ap_draws_follow_the_exact_mean_and_a_plain_ranking():
    """The rank-based draws average to chance_ap, and agree with AP of shuffled rankings
    (the plain reference) in distribution: their quartiles match."""
    import numpy as np

    from harness.planted.metrics import random_ap_draws

    rng = np.random.default_rng(0)
    n, rel = 60, 3
    draws = random_ap_draws(n, rel, 40_000, rng)
    assert draws.mean() == pytest.approx(chance_ap(n, rel), rel=0.02)
    plain = [average_precision(list(rng.permutation(n)), {0, 1, 2}) for _ in range(4000)]
    assert np.quantile(draws, [0.25, 0.5, 0.75]) == pytest.approx(
        np.quantile(plain, [0.25, 0.5, 0.75]), rel=0.08
    )
    assert draws.min() > 0 and draws.max() <= 1


def test_chance_range_of_the_mean_is_skewed_below_and_above_the_expectation():
    """For a dozen facts of ~2,000 neurons the mean AP under chance is usually below its
    expectation (a heavy right tail); the range holds the expectation and is seeded."""
    from harness.planted.metrics import chance_mean_ap_range

    facts = [(2048, 2)] * 6 + [(2048, 3)] * 6
    low, high = chance_mean_ap_range(facts, seed=1)
    expected = sum(chance_ap(n, r) for n, r in facts) / len(facts)
    assert low < expected < high
    assert low < 0.6 * expected  # skewed: the low end is far below the mean
    assert (low, high) == chance_mean_ap_range(facts, seed=1)
    assert math.isnan(chance_mean_ap_range([])[0])
    with pytest.raises(ValueError, match="relevant <= n"):
        chance_mean_ap_range([(2, 3)])
