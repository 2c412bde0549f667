"""The Riemann convention and the per-layer normalization (Eq. 5)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.attribution import alphas, normalize_per_layer
from harness.attribution.engine import plan_chunks
from harness.attribution.riemann import path_points


def test_alphas_are_a_right_riemann_sum():
    assert alphas(4).tolist() == [0.25, 0.5, 0.75, 1.0]
    assert alphas(1).tolist() == [1.0]
    with pytest.raises(ValueError):
        alphas(0)


def test_right_sum_of_a_linear_integrand():
    # ∫_0^1 α dα = 1/2; the right sum gives (M + 1) / (2M), not the left sum's (M - 1) / (2M)
    m = 10
    assert alphas(m).mean().item() == pytest.approx((m + 1) / (2 * m))


def test_path_points_run_from_baseline_to_input():
    start, end = torch.tensor([[0.0, 2.0]]).expand(2, 2), torch.tensor([4.0, -2.0])
    pts = path_points(start, end, torch.tensor([0.5, 1.0]))
    assert pts.tolist() == [[2.0, 0.0], [4.0, -2.0]]


def test_plan_covers_every_row_once():
    seen = []
    for groups in plan_chunks(n_layers=3, n_baselines=2, steps=4, max_rows=5):
        assert sum(g.hi - g.lo for g in groups) <= 5
        assert [g.lo for g in groups] == sorted(g.lo for g in groups)
        for g in groups:
            for b, a in zip(g.baseline.tolist(), g.alpha.tolist(), strict=True):
                seen.append((g.layer, b, round(a * 4)))
    assert sorted(seen) == [(lay, b, k) for lay in range(3) for b in range(2) for k in range(1, 5)]


def test_normalize_divides_each_layer_by_its_abs_sum():
    raw = torch.tensor([[1.0, -3.0, 0.0, 4.0], [0.5, 0.5, 0.5, 0.5]])
    out = normalize_per_layer(raw)
    assert out.tolist() == [[0.125, -0.375, 0.0, 0.5], [0.25, 0.25, 0.25, 0.25]]
    assert out.dtype == torch.float32


def test_normalize_zero_and_near_zero_layers_give_zeros():
    raw = torch.tensor([[0.0, 0.0, 0.0], [1e-14, -1e-14, 1e-14], [1e-5, 0.0, 0.0], [2.0, 0.0, -2.0]])
    out = normalize_per_layer(raw)
    assert torch.isfinite(out).all()
    assert out[0].tolist() == [0.0, 0.0, 0.0]  # exactly 0
    assert out[1].tolist() == [0.0, 0.0, 0.0]  # 3e-14 <= 1e-6 * 4 (the largest layer's sum)
    assert out[2].tolist() == [1.0, 0.0, 0.0]  # small but above eps * 4: still normalized
    assert out[3].tolist() == [0.5, 0.0, -0.5]
    assert normalize_per_layer(raw, eps=1e-3)[2].tolist() == [0.0, 0.0, 0.0]
    assert normalize_per_layer(torch.zeros(2, 3)).tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize("scale", [1e-30, 1e-12, 1.0, 1e12])
def test_normalize_does_not_depend_on_the_scale_of_the_scores(scale):
    """Raw scores scale with P, e.g. ~1e-11 for a whole 5-token object; no layer may vanish
    just because P is small."""
    raw = torch.tensor([[1.0, -3.0, 0.0, 4.0], [0.5, 0.5, 0.5, 0.5], [1e-9, 0.0, 0.0, 0.0]])
    expected = [[0.125, -0.375, 0.0, 0.5], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]]
    assert normalize_per_layer(raw * scale).flatten().tolist() == pytest.approx(sum(expected, []))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3), min_size=1, max_size=4))
def test_normalized_layers_have_unit_abs_sum_and_keep_signs(rows):
    raw = torch.tensor(rows, dtype=torch.float32)
    out = normalize_per_layer(raw)
    largest = raw.abs().sum(-1).max()
    for r, o in zip(raw, out, strict=True):
        total = o.abs().sum().item()
        if r.abs().sum() > 1e-6 * largest:
            assert total == pytest.approx(1.0, rel=1e-5)
            assert ((torch.sign(o) == torch.sign(r)) | (o == 0)).all()
        else:
            assert total == 0.0
