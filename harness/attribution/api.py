"""Public entry points: :func:`attribute` and :func:`attribute_batch`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from harness.attribution.causal import CausalRunner
from harness.attribution.engine import PathRunner
from harness.attribution.ig import integrated_gradients
from harness.attribution.masked import MaskedRunner
from harness.attribution.normalize import normalize_per_layer
from harness.attribution.query import ClozeQuery, EncodedQuery, as_encoded
from harness.attribution.saig import sequential_adapted_ig

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

Method = Literal["saig", "ig"]
METHODS: tuple[str, ...] = ("saig", "ig")
DEFAULT_MAX_ROWS = 256


@dataclass(frozen=True, eq=False)  # holds tensors: compare fields explicitly
class Attribution:
    """Neuron attribution scores for one query.

    ``scores`` are normalized per layer (Eq. 5) when ``normalized``; otherwise they equal
    ``raw``. Both are plain CPU tensors, see :meth:`state_dict` / :meth:`from_state_dict`.
    """

    scores: torch.Tensor  # [L, N] float32, CPU
    raw: torch.Tensor  # [L, N] float32, CPU: unnormalized sums (Eq. 4)
    base_prob: float  # P(answer) on the real query (the gradient target is P, not log P)
    method: str  # "saig" or "ig"
    steps: int  # M, right Riemann sum α_k = k/M, k = 1..M
    n_baselines: int  # SAIG: query tokens T'; IG: 1
    full_object: bool
    normalized: bool

    @property
    def n_layers(self) -> int:
        return self.scores.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.scores.shape[1]

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values, e.g. for ``torch.save``."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Attribution:
        return cls(**state)

    def to_numpy(self) -> dict[str, Any]:
        """Like :meth:`state_dict` with numpy arrays, e.g. for ``np.savez``."""
        return {
            k: (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in self.state_dict().items()
        }


def _runner(adapter: ModelAdapter, enc: EncodedQuery) -> PathRunner:
    return CausalRunner(adapter, enc) if adapter.is_causal else MaskedRunner(adapter, enc)


def attribute(
    adapter: ModelAdapter,
    query: ClozeQuery | EncodedQuery,
    method: Method = "saig",
    steps: int = 20,
    full_object: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    normalize: bool = True,
) -> Attribution:
    """Attribute ``P(answer)`` to every FFN neuron at the query's target position.

    Args:
        adapter: from :func:`harness.adapters.get_adapter`.
        query: a :class:`ClozeQuery` (or an already encoded query).
        method: ``"saig"`` (MATRICE's sequential adapted IG, one baseline per query token)
            or ``"ig"`` (zero baseline, Dai et al. 2022).
        steps: ``M``, the Riemann steps ``α_k = k/M``, ``k = 1..M`` (right sum).
        full_object: score all object tokens (teacher forcing / one mask per token).
        max_rows: the most (layer, baseline, step) rows per batched forward pass; bounds
            memory.
        normalize: divide each layer by its sum of |scores| (Eq. 5; a ~0 layer gives 0s).

    Returns:
        An :class:`Attribution` with ``scores [L, N]``.

    Example::

        adapter = get_adapter(model, tokenizer)
        att = attribute(adapter, ClozeQuery("The capital of France is", "Paris"))
        top = att.scores.flatten().topk(5).indices  # layer = i // N, neuron = i % N
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    enc = as_encoded(adapter, query, full_object)
    runner = _runner(adapter, enc)
    if method == "ig":
        raw, n_baselines = integrated_gradients(runner, steps, max_rows), 1
    else:
        raw, n_baselines = sequential_adapted_ig(adapter, enc, runner, steps, max_rows)
    return Attribution(
        scores=normalize_per_layer(raw) if normalize else raw.clone(),
        raw=raw,
        base_prob=runner.base_prob,
        method=method,
        steps=steps,
        n_baselines=n_baselines,
        full_object=full_object,
        normalized=normalize,
    )


def attribute_batch(
    adapter: ModelAdapter,
    queries: Sequence[ClozeQuery | EncodedQuery],
    method: Method = "saig",
    steps: int = 20,
    full_object: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    normalize: bool = True,
    progress: bool = False,
) -> list[Attribution]:
    """:func:`attribute` for each query (one query at a time; ``progress`` shows tqdm)."""
    items: Iterable[ClozeQuery | EncodedQuery] = queries
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(queries, desc=f"attribute ({method})", unit="query")
    return [attribute(adapter, q, method, steps, full_object, max_rows, normalize) for q in items]
