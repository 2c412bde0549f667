"""Property tests of the Eq. 6–13 functions and of MATRICE on edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from localizer_synth import synthetic

from harness.localizers import Matrice, MatriceNoUaL, MatriceNoUaQ
from harness.localizers.uncertainty import NonFiniteError, mean_minus_std, minmax, select, ual, uaq

FAST = settings(max_examples=40, deadline=None)
finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
matrix = arrays(np.float32, (2, 5), elements=finite)


@FAST
@given(matrix)
def test_minmax_range_and_constant_case(x):
    out = minmax(torch.from_numpy(x))
    assert out.min() >= 0 and out.max() <= 1
    if x.max() > x.min():
        assert out.max() == 1 and out.min() == 0
    else:
        assert (out == 0).all()


@FAST
@given(st.floats(-1e3, 1e3, allow_nan=False), st.integers(1, 4), st.integers(1, 3))
def test_all_equal_scores_select_nothing(value, n_queries, n_langs):
    m = torch.full((2, 5), value)
    fact, provider = synthetic({f"l{k}": [m] * n_queries for k in range(n_langs)})
    for loc in (Matrice(), Matrice(positive_only=False), MatriceNoUaQ(), MatriceNoUaL()):
        got = loc.localize(fact, provider)
        assert len(got) == 0, loc


def test_zeros_select_nothing():
    fact, provider = synthetic({"en": [torch.zeros(2, 5)] * 3, "zh": [torch.zeros(2, 5)]})
    assert len(Matrice(positive_only=False).localize(fact, provider)) == 0


@FAST
@given(arrays(np.float32, (3, 2, 5), elements=finite))
def test_one_language_is_the_normalized_uaq_score(x):
    per_query = [torch.from_numpy(m) for m in x]
    S, normalized = ual({"en": uaq(per_query, 1.0, 1.0)}, 1.0, 1.0)
    assert torch.equal(S, normalized[0])  # the std over one language is 0
    assert torch.equal(S, minmax(uaq(per_query, 1.0, 1.0)))


@FAST
@given(matrix, st.floats(0.1, 3), st.floats(0, 3))
def test_one_query_has_zero_variance(x, a1, a2):
    t = torch.from_numpy(x)
    assert torch.allclose(uaq([t], a1, a2), a1 * t.double())


@FAST
@given(arrays(np.float32, (4, 2, 5), elements=finite))
def test_population_variance(x):
    got = mean_minus_std(torch.from_numpy(x), 0.0, 1.0)
    want = -x.astype(np.float64).std(0, ddof=0)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)


def clear_of_threshold(per_lang: dict[str, list[torch.Tensor]], tau: float = 0.7) -> bool:
    """No S within a rounding error of T (where float noise could flip a selection)."""
    S, _ = ual({k: uaq(v, 1.0, 1.0) for k, v in per_lang.items()}, 1.0, 1.0)
    return bool(((S - tau * S.max()).abs() > 1e-6).all())


@FAST
@given(
    arrays(np.float32, (3, 2, 2, 5), elements=st.integers(-80, 80).map(lambda i: i / 8)),
    st.integers(-10, 10).map(lambda k: 2.0**k),
)
def test_selection_is_invariant_to_positive_scaling(x, c):  # powers of 2: exact in floats
    per_lang = {f"l{k}": [torch.from_numpy(m) for m in x[k]] for k in range(3)}
    assume(clear_of_threshold(per_lang))
    fact, provider = synthetic(per_lang)
    scaled, provider2 = synthetic({f"l{k}": [torch.from_numpy(m) * c for m in x[k]] for k in range(3)})
    a = Matrice().localize(fact, provider)
    b = Matrice().localize(scaled, provider2)
    assert a.as_tuples() == b.as_tuples() and torch.equal(a.scores, b.scores)


@FAST
@given(arrays(np.float32, (3, 2, 5), elements=finite), st.permutations([0, 1, 2]))
def test_language_order_does_not_matter(x, perm):
    langs = ["en", "zh", "fr"]
    assume(clear_of_threshold({langs[k]: [torch.from_numpy(x[k])] for k in range(3)}))
    fact, provider = synthetic({langs[k]: [torch.from_numpy(x[k])] for k in range(3)})
    shuffled, provider2 = synthetic({langs[k]: [torch.from_numpy(x[k])] for k in perm})
    a, b = Matrice().localize(fact, provider), Matrice().localize(shuffled, provider2)
    assert set(a.as_tuples()) == set(b.as_tuples())


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_inputs_raise(bad):
    x = torch.zeros(2, 2, 5)
    x[1, 0, 2] = bad
    with pytest.raises(NonFiniteError, match="NaN|inf"):
        mean_minus_std(x, 1, 1)
    with pytest.raises(NonFiniteError):
        minmax(x[1])
    with pytest.raises(NonFiniteError):
        select(x[1], 0.5)


def test_select_with_non_positive_max_is_empty():
    assert not select(torch.tensor([[-1.0, -0.5, 0.0]]), 0.3).any()
    assert select(torch.tensor([[-1.0, 0.2, 1.0]]), 0.3).tolist() == [[False, False, True]]


def test_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="at least one query"):
        uaq([], 1, 1)
    with pytest.raises(ValueError, match="at least one language"):
        ual({}, 1, 1)
