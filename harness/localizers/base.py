"""The localizer contract: what a localizer receives, what it returns, and how it is built.

A *localizer* takes one fact (its cloze queries in every language) and an
:class:`AttributionProvider`, and returns the selected neurons as a :class:`NeuronSet`.
Localizers never call the attribution engine themselves: the provider computes each
(query, method, steps) attribution once and shares it with every localizer of a run.

Shapes: ``L`` layers, ``N`` neurons per layer, ``K`` selected neurons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from harness.attribution.query import ClozeQuery
from harness.data import Fact, fact_from_rows  # noqa: F401  (re-exported)
from harness.options import build, options_of  # noqa: F401  (options_of: re-exported)


@dataclass(frozen=True)
class NeuronSet:
    """The neurons a localizer selected for one fact, best first.

    ``neurons[i] = (layer, index)`` has score ``scores[i]`` (the localizer's own scale);
    ``meta`` holds JSON-able details (options, thresholds, counts).
    """

    neurons: torch.Tensor  # [K, 2] long: (layer, neuron index)
    scores: torch.Tensor  # [K] float32
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def __len__(self) -> int:
        return int(self.neurons.shape[0])

    def as_tuples(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in self.neurons.tolist()]

    def mask(self, shape: tuple[int, int]) -> torch.Tensor:
        """``[L, N]`` bool, True at the selected neurons."""
        out = torch.zeros(shape, dtype=torch.bool)
        out[self.neurons[:, 0], self.neurons[:, 1]] = True
        return out

    @classmethod
    def empty(cls, meta: dict[str, Any] | None = None) -> NeuronSet:
        return cls(torch.zeros((0, 2), dtype=torch.long), torch.zeros(0), dict(meta or {}))

    @classmethod
    def from_mask(
        cls, mask: torch.Tensor, scores: torch.Tensor, meta: dict[str, Any] | None = None
    ) -> NeuronSet:
        """The True entries of ``mask [L, N]`` with their ``scores [L, N]``, sorted by score
        (descending; ties by layer, then index)."""
        idx = mask.nonzero()  # [K, 2], row-major order
        vals = scores[idx[:, 0], idx[:, 1]].float()
        order = torch.argsort(-vals, stable=True)
        return cls(idx[order].long(), vals[order], dict(meta or {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (see :meth:`from_dict`)."""
        return {"neurons": self.as_tuples(), "scores": self.scores.tolist(), "meta": self.meta}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NeuronSet:
        neurons = torch.tensor(data["neurons"], dtype=torch.long).reshape(-1, 2)
        return cls(neurons, torch.tensor(data["scores"], dtype=torch.float32), dict(data.get("meta", {})))


@runtime_checkable
class AttributionProvider(Protocol):
    """Per-query neuron attributions, computed once and shared (see ``provider.py``)."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(L, N)``: layers and neurons per layer."""
        ...

    def attribute(
        self, query: ClozeQuery, method: str = "saig", *, steps: int | None = None, normalized: bool = True
    ) -> torch.Tensor:
        """``[L, N]`` float32 CPU scores of ``query`` (``normalized``: per layer, Eq. 5;
        else the raw sums). ``steps=None`` is the provider's default."""
        ...


@runtime_checkable
class Localizer(Protocol):
    """Selects a fact's neurons. Register a factory (usually the class) with
    ``@register("localizer", "my-name")``; its keyword arguments are the options."""

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet: ...


# ---- building localizers from options (CLI: --localizer-option key=value) -------------------


def build_localizer(name: str, options: Mapping[str, Any] | None = None) -> Localizer:
    """Look ``name`` up in the registry and build it with ``options``.

    String values (from the CLI) are converted to the types of a dataclass localizer's
    fields (``"0.5"`` -> 0.5, ``"en,zh"`` -> ``("en", "zh")``, ``"none"`` -> None); an
    unknown option raises ValueError listing the valid ones (:mod:`harness.options`).
    """
    from harness.registry import get

    obj = build("localizer", name, get("localizer", name), options)
    if not callable(getattr(obj, "localize", None)):
        raise TypeError(f"localizer {name!r}: {type(obj).__name__} has no localize(fact, provider)")
    return obj
