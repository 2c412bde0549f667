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


def test_context_negatives_are_held_to_the_fire_rate_on_their_own():
    # 1,000 target negatives around 0 and 20,000 context rows far below: pooled, the
    # 0.1 % quantile would sit among the target negatives' top 21 (2.1 % of them firing)
    g = torch.Generator().manual_seed(0)
    d = 4
    pos = torch.randn(200, d, generator=g) * 0.1
    pos[:, 0] += 6.0
    neg = torch.randn(1000, d, generator=g)
    ctx = torch.randn(20000, d, generator=g)
    ctx[:, 0] -= 8.0
    e0 = torch.eye(d)[0]
    kw = dict(threshold=1.0, target=5.0, max_norm=100.0, fire_rate=0.001, direction=e0)
    key = fit_key(pos, neg, context=ctx, **kw)
    pooled = fit_key(pos, torch.cat([neg, ctx]), **kw)
    assert key is not None and pooled is not None

    def rate(k, x):
        return float(((x @ k.weight + k.bias) > k.threshold).float().mean())

    assert rate(key, neg) <= 0.001 + 1e-9 and rate(key, ctx) <= 0.001 + 1e-9
    assert rate(pooled, neg) > 0.01  # what pooling would have allowed
    # and context rows that score high are held down just the same
    ctx_high = ctx.clone()
    ctx_high[:, 0] += 9.0  # now above most target negatives
    key2 = fit_key(pos, neg, context=ctx_high, **kw)
    assert key2 is not None and rate(key2, ctx_high) <= 0.001 + 1e-9
