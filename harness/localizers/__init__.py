"""Localizers: which neurons store a fact, in every language.

Public API::

    from harness.localizers import EngineProvider, Fact, build_localizer, run_localizers

    provider = EngineProvider(adapter, model_id="gpt2")
    localizers = {n: build_localizer(n) for n in ("matrice", "amig", "random")}
    results = run_localizers(fact, provider, localizers)  # name -> NeuronSet | LocalizerError
    provider.clear()  # between facts

Built-ins (registered under ``localizer``): ``matrice``, ``matrice-no-uaq``,
``matrice-no-ual``, ``amig``, ``kn``, ``random``, ``mean-ig`` (a baseline). Plugins register
through the decorator, the entry-point group ``rml_lama.localizers`` or ``--plugin module.path``; see
``docs/localizers.md``.
"""

from harness.localizers.amig import Amig, amig_attribution
from harness.localizers.base import (
    AttributionProvider,
    Fact,
    Localizer,
    NeuronSet,
    build_localizer,
    fact_from_rows,
    options_of,
)
from harness.localizers.kn import KnowledgeNeurons
from harness.localizers.matrice import Matrice, MatriceNoUaL, MatriceNoUaQ
from harness.localizers.mean_ig import MeanIG
from harness.localizers.provider import DiskCache, EngineProvider, ProviderStats, StaticProvider, cache_key
from harness.localizers.random import RandomNeurons
from harness.localizers.run import LocalizerError, run_localizers, validate
from harness.localizers.uncertainty import NonFiniteError

__all__ = [
    "Amig",
    "AttributionProvider",
    "DiskCache",
    "EngineProvider",
    "Fact",
    "KnowledgeNeurons",
    "Localizer",
    "LocalizerError",
    "Matrice",
    "MatriceNoUaL",
    "MatriceNoUaQ",
    "MeanIG",
    "NeuronSet",
    "NonFiniteError",
    "ProviderStats",
    "RandomNeurons",
    "StaticProvider",
    "amig_attribution",
    "build_localizer",
    "cache_key",
    "fact_from_rows",
    "options_of",
    "run_localizers",
    "validate",
]
