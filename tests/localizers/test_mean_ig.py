"""mean-ig: top-k of IG averaged per language, then over languages."""

from __future__ import annotations

import pytest
import torch

from harness.attribution.query import ClozeQuery
from harness.localizers.base import Fact, build_localizer
from harness.localizers.provider import StaticProvider


def test_top_k_of_the_language_balanced_mean():
    en = (ClozeQuery("a", "x"), ClozeQuery("b", "x"))
    fi = (ClozeQuery("c", "x"),)
    fact = Fact("u", "P1", {"en": en, "fi": fi})
    z = torch.zeros(2, 3)
    s_en1, s_en2, s_fi = z.clone(), z.clone(), z.clone()
    s_en1[0, 0], s_en2[0, 0] = 8.0, 0.0  # en mean 4 at (0, 0): overall 2
    s_fi[1, 2] = 3.0  # fi alone at (1, 2): language mean 1.5 (each language weighs the same)
    s_en1[0, 1] = s_en2[0, 1] = 1.0
    s_fi[0, 1] = 1.0  # (0, 1): 1 everywhere -> 1
    provider = StaticProvider({(en[0], "ig"): s_en1, (en[1], "ig"): s_en2, (fi[0], "ig"): s_fi})
    nset = build_localizer("mean-ig", {"k": "2"}).localize(fact, provider)
    assert nset.as_tuples() == [(0, 0), (1, 2)]
    assert nset.scores.tolist() == pytest.approx([2.0, 1.5])


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be >= 1"):
        build_localizer("mean-ig", {"k": 0})
