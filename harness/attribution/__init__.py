"""Neuron attribution: which FFN neurons make a model predict a fact's object.

Public API::

    from harness.adapters import get_adapter
    from harness.attribution import ClozeQuery, attribute

    adapter = get_adapter(model, tokenizer)
    att = attribute(adapter, ClozeQuery("The capital of France is", "Paris"), method="saig")
    att.scores  # [L, N] float32, normalized per layer

See ``docs/attribution.md`` for the neuron definition per family, the Riemann convention
(right sum, α_k = k/M) and the normalization.
"""

from harness.attribution.api import METHODS, Attribution, attribute, attribute_batch
from harness.attribution.normalize import normalize_per_layer
from harness.attribution.query import ClozeQuery, EncodedQuery, encode_query
from harness.attribution.riemann import alphas
from harness.attribution.scoring import (
    Prediction,
    answer_probabilities,
    answer_probability,
    predict,
    predict_batch,
)

__all__ = [
    "METHODS",
    "Attribution",
    "ClozeQuery",
    "EncodedQuery",
    "Prediction",
    "alphas",
    "answer_probabilities",
    "answer_probability",
    "attribute",
    "attribute_batch",
    "encode_query",
    "normalize_per_layer",
    "predict",
    "predict_batch",
]
