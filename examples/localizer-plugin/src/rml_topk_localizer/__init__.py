"""An example RML-LAMA localizer plugin: the ``k`` neurons with the highest mean SAIG score
over all the queries of all the languages of a fact.

Installed, it is found through the entry point ``topk-mean`` of the group
``rml_lama.localizers`` (see ``pyproject.toml``); no import is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.localizers import AttributionProvider, Fact, NeuronSet, options_of

__all__ = ["TopKMean"]


@dataclass(frozen=True)
class TopKMean:
    """The top-k neurons by mean attribution over every query and language."""

    k: int = 10  # how many neurons
    method: str = "saig"  # attribution method asked of the provider

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet:
        scores = [provider.attribute(q, self.method) for qs in fact.select(None).values() for q in qs]
        mean = torch.stack(scores).mean(0)  # [L, N]
        top = mean.flatten().topk(min(self.k, mean.numel()))
        n_neurons = mean.shape[1]
        neurons = torch.stack([top.indices // n_neurons, top.indices % n_neurons], 1)
        return NeuronSet(neurons, top.values, {"localizer": "topk-mean", "options": options_of(self)})
