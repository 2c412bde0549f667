"""Keys of planted neurons: fire on a fact's queries, stay in the background elsewhere.

A key is a direction ``w`` in the FFN input space plus a scale and a bias:
``pre(x) = a · (x · w) + b``. The direction is a class-balanced logistic regression of the
target-position FFN inputs (the fact's queries, every covered language weighted equally,
against every other query of the closed benchmark set), refined by a squared-hinge fit
when it is not selective enough in the tail (it rarely is for keys that must fire in all
seven languages: on tiny-gpt, 0 of 20 held-out facts with the logistic fit alone, 18 with
the refinement, in layer 2). The scale and bias then put the
negatives' top ``fire_rate`` quantile at the firing threshold (a pre-activation the layer's
own neurons reach rarely) and the positives at ``target`` (one the layer's own neurons reach
on their strongest queries), unless that needs a key norm above ``max_norm``; then the norm
is capped and the fact's pre-activations come out lower.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Key:
    weight: torch.Tensor  # [D] the key (a · w)
    bias: float
    threshold: float  # pre-activation above which the neuron "fires"
    capped: bool  # the norm cap bound: the fact's pre-activations are below target


def logistic_direction(
    pos: torch.Tensor,
    neg: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    l2: float = 1e-3,
    iters: int = 40,
    neg_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """``[D]`` weights of a class-balanced logistic regression, ``pos [P, D]`` vs ``neg [M, D]``
    (inputs standardized with the negatives' mean and std; the returned direction is in the
    original space). ``pos_weight [P]`` weights positives within their class (sums to 1);
    ``neg_weight [M]`` the negatives within theirs (default: equally)."""
    mu, sd = neg.mean(0), neg.std(0).clamp(min=1e-6)
    zp, zn = (pos - mu) / sd, (neg - mu) / sd
    wp = torch.full((len(pos),), 1 / len(pos)) if pos_weight is None else pos_weight / pos_weight.sum()
    wn = None if neg_weight is None else neg_weight / neg_weight.sum()

    def neg_term(loss: torch.Tensor) -> torch.Tensor:
        return loss.mean() if wn is None else (loss * wn).sum()  # (the mean: bit for bit as before)

    w = torch.zeros(pos.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            (torch.nn.functional.softplus(-(zp @ w + b)) * wp).sum()
            + neg_term(torch.nn.functional.softplus(zn @ w + b))
            + l2 * (w * w).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return (w.detach() / sd).float()


def margin_direction(
    pos: torch.Tensor,
    neg: torch.Tensor,
    pos_weight: torch.Tensor,
    init: torch.Tensor,
    c_neg: float = 50.0,
    iters: int = 60,
    hard: int = 3000,
) -> torch.Tensor:
    """Refine ``init`` with a squared-hinge (L2-SVM) fit: the positives (``pos_weight``,
    e.g. each language equally) above +1, the negatives below −1, with a heavy weight
    ``c_neg`` on the negatives. Unlike the logistic loss, the hinge only sees the negatives
    that violate the margin, i.e. the tail that decides selectivity. Only the ``hard``
    negatives that score highest under ``init`` take part (the others are far below)."""
    if len(neg) > hard:
        neg = neg[torch.topk(neg @ init, hard).indices]
    mu, sd = neg.mean(0), neg.std(0).clamp(min=1e-6)
    zp, zn = (pos - mu) / sd, (neg - mu) / sd
    wp = pos_weight / pos_weight.sum()
    w = (init * sd).clone().requires_grad_(True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            (torch.relu(1 - (zp @ w + b)) ** 2 * wp).sum()
            + c_neg * (torch.relu(1 + (zn @ w + b)) ** 2).mean()
            + 1e-4 * (w * w).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return (w.detach() / sd).float()


def fit_key(
    pos: torch.Tensor,
    neg: torch.Tensor,
    threshold: float,
    target: float,
    max_norm: float,
    pos_weight: torch.Tensor | None = None,
    pos_groups: torch.Tensor | None = None,
    fire_rate: float = 0.0005,
    rest: float | None = None,
    direction: torch.Tensor | None = None,
    context: torch.Tensor | None = None,
) -> Key | None:
    """A key for positives ``pos [P, D]`` against ``neg [M, D]``; None when the direction
    does not separate them (the positives' level is not above the negatives' cut).

    ``s = x · w`` is mapped linearly to a pre-activation ``a·s + b`` such that

    * the positives' level (the lowest per-group median, ``pos_groups [P]`` naming each
      positive's language) reaches ``target``;
    * the negatives' ``1 − fire_rate`` quantile (the cut) stays at or below the firing
      ``threshold``, so at most ``fire_rate`` of the fitted negatives fire;
    * the negatives' median stays at or below ``rest`` (when given: the layer's own median
      pre-activation), so the neuron's background sits where the real neurons' does (on
      GELU's negative side) rather than just under the threshold — unless the norm cap
      leaves no room: then the positives keep at least half-way from threshold to target.

    The scale is the smallest that meets the first constraint under the other two; the key
    norm ``a·|w|`` is capped at ``max_norm`` (then the positives come out below ``target``).
    ``direction [D]``: use this ``w`` instead of fitting one.

    ``context [C, D]``: more negatives, held to the same ``fire_rate`` on their own (the
    cut is the higher of the two sets' quantiles; pooled, the far more numerous context rows
    would let the target negatives fire more often) and fitted against with them; the
    ``rest`` median is the target negatives' (masked LMs: the FFN inputs at the query's
    other positions, see :func:`harness.planted.features.collect`).
    """
    weight = torch.full((len(pos),), 1.0 / len(pos)) if pos_weight is None else pos_weight
    groups = torch.zeros(len(pos), dtype=torch.long) if pos_groups is None else pos_groups

    def quantile_cut(s: torch.Tensor) -> float:
        return float(s.max() if fire_rate <= 0 else torch.quantile(s, 1 - fire_rate))

    def level_and_cut(w: torch.Tensor) -> tuple[float, float]:
        sp = pos @ w
        level = min(float(sp[groups == g].median()) for g in groups.unique())
        cut = quantile_cut(neg @ w)
        if context is not None and len(context):
            cut = max(cut, quantile_cut(context @ w))
        return level, cut

    every, neg_weight = neg, None
    if context is not None:  # the target negatives and the context weigh the same in the fit
        every = torch.cat([neg, context])
        neg_weight = torch.cat(
            [torch.full((len(neg),), 0.5 / len(neg)), torch.full((len(context),), 0.5 / len(context))]
        )
    if direction is None:
        w = logistic_direction(pos, every, weight, neg_weight=neg_weight)
    else:
        w = direction.float()
    level, cut = level_and_cut(w)
    if (
        level <= cut and direction is None
    ):  # the logistic fit is not selective enough in the tail: a margin fit
        w = margin_direction(pos, every, weight, w)
        level, cut = level_and_cut(w)
    if level <= cut or not w.norm() > 0:
        return None
    a = (target - threshold) / (level - cut)
    if rest is not None:
        mid = float((neg @ w).median())
        a = max(a, (target - rest) / (level - mid))
    capped = a * float(w.norm()) > max_norm
    if capped:
        a = max_norm / float(w.norm())
    bias = threshold - a * cut  # the most a selective key allows
    if rest is not None:  # lower, to rest, unless that drops the positives below mid-way
        bias = min(bias, max(rest - a * mid, (threshold + target) / 2 - a * level))
    return Key(weight=a * w, bias=bias, threshold=threshold, capped=capped)
