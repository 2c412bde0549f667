"""Run several localizers on one fact, isolating failures.

A localizer that raises, or returns something malformed (not a :class:`NeuronSet`, wrong
shapes, indices out of range, duplicate neurons, non-finite scores, ``meta`` that is not
JSON-able) yields a :class:`LocalizerError` naming it; the other localizers still run.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

import torch

from harness.localizers.base import AttributionProvider, Fact, Localizer, NeuronSet


class LocalizerError(Exception):
    """A localizer failed on a fact: it raised, or its output is malformed."""

    def __init__(self, localizer: str, fact: str, reason: str, details: str = "") -> None:
        super().__init__(f"localizer {localizer!r} failed on fact {fact}: {reason}")
        self.localizer = localizer
        self.fact = fact
        self.reason = reason
        self.details = details  # the traceback, when it raised

    def to_dict(self) -> dict[str, str]:
        return {"localizer": self.localizer, "fact": self.fact, "error": self.reason}


def validate(result: Any, shape: tuple[int, int]) -> NeuronSet:
    """Return ``result`` if it is a well-formed :class:`NeuronSet` for a model of ``shape``
    ``(L, N)``; else raise ValueError saying what is wrong."""
    if not isinstance(result, NeuronSet):
        raise ValueError(f"returned {type(result).__name__}, expected a NeuronSet")
    neurons, scores = result.neurons, result.scores
    if not isinstance(neurons, torch.Tensor) or not isinstance(scores, torch.Tensor):
        raise ValueError("neurons and scores must be torch tensors")
    if neurons.ndim != 2 or neurons.shape[1] != 2:
        raise ValueError(f"neurons must have shape [K, 2], got {tuple(neurons.shape)}")
    if neurons.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"neurons must be integer (long), got {neurons.dtype}")
    if scores.ndim != 1 or scores.shape[0] != neurons.shape[0]:
        raise ValueError(f"scores must have shape [K={neurons.shape[0]}], got {tuple(scores.shape)}")
    if not torch.isfinite(scores.float()).all():
        raise ValueError("scores hold NaN or inf")
    n_layers, n_neurons = shape
    if len(neurons):
        layer, index = neurons[:, 0], neurons[:, 1]
        if layer.min() < 0 or layer.max() >= n_layers:
            raise ValueError(f"layer out of range [0, {n_layers}): {layer.min()}..{layer.max()}")
        if index.min() < 0 or index.max() >= n_neurons:
            raise ValueError(f"neuron index out of range [0, {n_neurons}): {index.min()}..{index.max()}")
        if len(torch.unique(layer * n_neurons + index)) != len(neurons):
            raise ValueError("the same neuron is selected more than once")
    if not isinstance(result.meta, dict):
        raise ValueError(f"meta must be a dict, got {type(result.meta).__name__}")
    try:
        json.dumps(result.meta)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not JSON-able: {e}") from None
    return result


def run_localizers(
    fact: Fact, provider: AttributionProvider, localizers: Mapping[str, Localizer]
) -> dict[str, NeuronSet | LocalizerError]:
    """Run each localizer on ``fact``; a failure becomes a :class:`LocalizerError` in the
    result instead of an exception. All share ``provider`` (and so its cache)."""
    shape = tuple(provider.shape)
    out: dict[str, NeuronSet | LocalizerError] = {}
    for name, localizer in localizers.items():
        try:
            result = localizer.localize(fact, provider)
        except (Exception, SystemExit) as e:  # a plugin's sys.exit() must not end the run silently
            out[name] = LocalizerError(name, fact.uuid, f"{type(e).__name__}: {e}", traceback.format_exc())
            continue
        try:
            out[name] = validate(result, shape)  # type: ignore[arg-type]
        except ValueError as e:
            out[name] = LocalizerError(name, fact.uuid, f"malformed output: {e}")
    return out
