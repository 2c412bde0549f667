"""Key fitting: selective on a separable toy set, None when nothing separates."""

from __future__ import annotations

import torch

from harness.planted.keys import fit_key, logistic_direction


def _toy(seed: int = 0, shift: float = 6.0):
    g = torch.Generator().manual_seed(seed)
    neg = torch.randn(2000, 8, generator=g)
    pos = torch.randn(30, 8, generator=g) * 0.3
    pos[:, 0] += shift
    return pos, neg


def test_logistic_direction_points_at_the_positives():
    pos, neg = _toy()
    w = logistic_direction(pos, neg)
    assert int(w.abs().argmax()) == 0 and w[0] > 0


def test_fit_key_puts_threshold_and_target_where_asked():
    pos, neg = _toy()
    key = fit_key(pos, neg, threshold=1.0, target=4.0, max_norm=100.0, fire_rate=0.001)
    assert key is not None and not key.capped
    pre_neg = neg @ key.weight + key.bias
    pre_pos = pos @ key.weight + key.bias
    assert float((pre_neg > key.threshold).float().mean()) <= 0.0015
    assert abs(float(pre_pos.median()) - 4.0) < 1e-3


def test_fit_key_caps_the_norm():
    pos, neg = _toy()
    key = fit_key(pos, neg, threshold=1.0, target=40.0, max_norm=0.5)
    assert key is not None and key.capped
    assert float(key.weight.norm()) <= 0.5 + 1e-5


def test_fit_key_none_when_positives_do_not_stand_out():
    pos, neg = _toy(shift=0.0)
    pos = neg[:30].clone()  # the positives are negatives: nothing separates them
    assert fit_key(pos, neg, threshold=1.0, target=4.0, max_norm=10.0) is None


def test_fit_key_puts_the_background_at_rest():
    pos, neg = _toy()
    key = fit_key(pos, neg, threshold=1.0, target=4.0, max_norm=100.0, fire_rate=0.001, rest=-2.0)
    assert key is not None
    pre_neg, pre_pos = neg @ key.weight + key.bias, pos @ key.weight + key.bias
    assert float(pre_neg.median()) <= -2.0 + 1e-4  # the bulk sits on GELU's negative side
    assert float((pre_neg > key.threshold).float().mean()) <= 0.0015  # still selective
    assert float(pre_pos.median()) >= 4.0 - 1e-3


def test_fit_key_with_a_given_direction_uses_it():
    pos, neg = _toy()
    d = torch.zeros(8)
    d[0] = 1.0
    key = fit_key(pos, neg, threshold=1.0, target=4.0, max_norm=100.0, direction=d)
    assert key is not None
    assert torch.allclose(key.weight / key.weight.norm(), d)
