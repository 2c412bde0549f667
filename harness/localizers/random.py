"""Random neurons: the control for every localizer.

As many neurons as another localizer (``match``, MATRICE by default) selected for the same
fact, or a fixed ``count``, drawn uniformly without replacement from all ``L · N`` neurons.
The draw is seeded by ``seed`` and the fact's uuid, so it is the same for a fact on every
run and independent of the order of facts. Matching asks the same provider, so its
attributions come from the cache: no extra gradients when the matched localizer also runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import torch

from harness.localizers.base import AttributionProvider, Fact, NeuronSet, build_localizer, options_of
from harness.registry import register


def fact_generator(seed: int, uuid: str) -> torch.Generator:
    """A CPU generator seeded from ``seed`` and ``uuid`` (stable across runs and platforms)."""
    digest = hashlib.sha256(f"{seed}:{uuid}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def random_neurons(shape: tuple[int, int], count: int, generator: torch.Generator) -> torch.Tensor:
    """``[count, 2]`` long (layer, index), distinct, uniform over the ``L · N`` neurons."""
    n_layers, n_neurons = shape
    if not 0 <= count <= n_layers * n_neurons:
        raise ValueError(f"cannot draw {count} distinct neurons from {n_layers} x {n_neurons}")
    flat = torch.randperm(n_layers * n_neurons, generator=generator)[:count]
    return torch.stack([flat // n_neurons, flat % n_neurons], 1)


@register("localizer", "random")
@dataclass(frozen=True)
class RandomNeurons:
    """Random neurons, as many as ``match`` selected (or ``count``), seeded per fact."""

    count: int | None = None  # a fixed number; None: as many as `match` selects
    match: str = "matrice"  # the registered localizer (default options) whose count to match
    seed: int = 0

    name: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 0:
            raise ValueError(f"{self.name}: count must be >= 0 (or none), got {self.count}")
        if self.count is None:
            from harness.registry import get

            get("localizer", self.match)  # an unknown name lists the valid ones

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        count = self.count
        if count is None:
            count = len(build_localizer(self.match).localize(fact, provider))
        neurons = random_neurons(provider.shape, count, fact_generator(self.seed, fact.uuid))
        meta = {"localizer": self.name, "options": options_of(self), "count": count}
        return NeuronSet(neurons, torch.zeros(count), meta)
