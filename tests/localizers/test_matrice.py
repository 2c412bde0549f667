"""MATRICE and its ablations on synthetic attributions whose right answer is known, and
against a plain numpy re-computation of Eq. 6–13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from localizer_synth import SHAPE, scores_with, synthetic

from harness.localizers import Matrice, MatriceNoUaL, MatriceNoUaQ, NonFiniteError

LANGS = ("en", "zh", "fr")
STABLE, ONE_LANGUAGE, VARIABLE = (0, 1), (0, 2), (0, 3)


def core_fact():
    """STABLE: ≈1 in every query and language; ONE_LANGUAGE: 1 in en only; VARIABLE: 2 in
    the first query of every language, 0 in the other three."""
    scores = {}
    for k, lang in enumerate(LANGS):
        per_query = []
        for t in range(4):
            m = scores_with(n0_1=1.0 + 0.02 * ((t + k) % 3), n0_3=2.0 if t == 0 else 0.0)
            if lang == "en":
                m[ONE_LANGUAGE] = 1.0
            per_query.append(m)
        scores[lang] = per_query
    return synthetic(scores)


def test_stable_neuron_selected_unstable_ones_not():
    fact, provider = core_fact()
    got = Matrice().localize(fact, provider)
    assert got.as_tuples() == [STABLE]
    assert got.meta["n_queries"] == {lang: 4 for lang in LANGS}
    assert got.meta["languages"] == list(LANGS)
    assert got.scores[0] > 0


def test_no_uaq_picks_a_neuron_high_only_in_the_first_query():
    fact, provider = core_fact()
    full = set(Matrice().localize(fact, provider).as_tuples())
    no_uaq = MatriceNoUaQ().localize(fact, provider)
    assert VARIABLE in no_uaq.as_tuples() and VARIABLE not in full
    assert no_uaq.meta["n_queries"] == {lang: 1 for lang in LANGS}


def ual_fact():
    """Constant over queries, background 0, max 1 per language, so ŝ_k = s_k:
    KEEP_UAL = (1, 1, 0.68): one language below τ = 0.7, but S = 0.743 > 0.7 · 1;
    KEEP_INTERSECTION = (0.72, 0.72, 1): every language above τ, but S = 0.681 < 0.7."""
    values = {(1, 0): (1.0, 1.0, 0.68), (1, 1): (0.72, 0.72, 1.0), STABLE: (1.0, 1.0, 1.0)}
    scores = {}
    for k, lang in enumerate(LANGS):
        m = torch.zeros(SHAPE)
        for neuron, per_lang in values.items():
            m[neuron] = per_lang[k]
        scores[lang] = [m.clone(), m.clone()]
    return synthetic(scores)


def test_no_ual_is_the_intersection_of_per_language_selections():
    fact, provider = ual_fact()
    full = set(Matrice(tau=0.7).localize(fact, provider).as_tuples())
    no_ual = MatriceNoUaL(tau=0.7).localize(fact, provider)
    assert full == {STABLE, (1, 0)}
    assert set(no_ual.as_tuples()) == {STABLE, (1, 1)}
    assert no_ual.meta["per_language_selected"] == {"en": 3, "zh": 3, "fr": 2}


def test_one_language_high_is_not_in_no_ual_either():
    fact, provider = core_fact()
    assert ONE_LANGUAGE not in MatriceNoUaL().localize(fact, provider).as_tuples()


# ---- plain numpy re-computation -----------------------------------------------------------


def numpy_matrice(stacks, a1, a2, b1, b2, tau, positive_only):
    """Eq. 6–13 written out with numpy (population std, min–max over each language)."""
    s = {lang: a1 * x.mean(0) - a2 * x.std(0, ddof=0) for lang, x in stacks.items()}
    if positive_only:  # negative evidence clipped to 0 before Eq. 9
        s = {lang: np.maximum(v, 0) for lang, v in s.items()}
    norm = []
    for v in s.values():
        span = v.max() - v.min()
        norm.append((v - v.min()) / span if span > 0 else np.zeros_like(v))
    norm = np.stack(norm)
    S = b1 * norm.mean(0) - b2 * norm.std(0, ddof=0)
    if S.max() <= 0:
        return np.zeros_like(S, dtype=bool), S
    mask = S > tau * S.max()
    if positive_only:
        mask &= np.stack(list(s.values())).mean(0) > 0
    return mask, S


@pytest.mark.parametrize("positive_only", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_matches_numpy(seed, positive_only):
    rng = np.random.default_rng(seed)
    n_queries = {"en": 5, "zh": 3, "fr": 1, "ja": 4}
    stacks = {
        lang: rng.standard_t(3, size=(t, 3, 16)) + rng.normal(0, 1, size=(3, 16))
        for lang, t in n_queries.items()
    }
    opts = dict(alpha1=rng.uniform(0.5, 2), alpha2=rng.uniform(0, 2), beta1=rng.uniform(0.5, 2))
    opts.update(beta2=rng.uniform(0, 2), tau=rng.uniform(0.1, 0.9))
    fact, provider = synthetic(
        {lang: [torch.tensor(m, dtype=torch.float32) for m in x] for lang, x in stacks.items()}
    )
    got = Matrice(**opts, positive_only=positive_only).localize(fact, provider)
    f32 = {lang: x.astype(np.float32).astype(np.float64) for lang, x in stacks.items()}
    mask, S = numpy_matrice(
        f32, opts["alpha1"], opts["alpha2"], opts["beta1"], opts["beta2"], opts["tau"], positive_only
    )
    want = sorted(map(tuple, np.argwhere(mask).tolist()), key=lambda n: -S[n])
    assert got.as_tuples() == want
    np.testing.assert_allclose(got.scores.numpy(), [S[n] for n in want], rtol=1e-5)
    assert got.meta["threshold"] == pytest.approx(opts["tau"] * S.max())


def test_nan_or_inf_input_is_a_clear_error():
    for bad in (float("nan"), float("inf"), float("-inf")):
        m = torch.zeros(SHAPE)
        m[1, 3] = bad
        fact, provider = synthetic({"en": [torch.ones(SHAPE), m], "zh": [torch.ones(SHAPE)]})
        with pytest.raises(NonFiniteError, match="fact f, en queries"):
            Matrice().localize(fact, provider)


def test_options_are_validated():
    with pytest.raises(ValueError, match="tau"):
        Matrice(tau=1.5)
    with pytest.raises(ValueError, match="alpha2"):
        MatriceNoUaL(alpha2=-1)


def test_languages_option_restricts_and_names_missing_languages():
    fact, provider = core_fact()
    got = Matrice(languages=("en",)).localize(fact, provider)
    assert got.meta["languages"] == ["en"]
    assert ONE_LANGUAGE in got.as_tuples()  # in en alone it is as stable as STABLE
    with pytest.raises(ValueError, match="no queries in language"):
        Matrice(languages=("en", "ko")).localize(fact, provider)
