"""RML-LAMA evaluation harness: attribution, localizers, models, tasks and runs.

The public API, imported lazily so that ``import harness`` stays cheap::

    from harness import EvalConfig, evaluate          # the loop behind rml-eval
    from harness import get_adapter, attribute        # attribution over FFN neurons
    from harness import load_model, register          # models and the plugin registry
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EvalConfig": "harness.evaluate",
    "evaluate": "harness.evaluate",
    "RunFolder": "harness.runs",
    "load_facts": "harness.data",
    "Fact": "harness.data",
    "get_adapter": "harness.adapters",
    "ClozeQuery": "harness.attribution",
    "attribute": "harness.attribution",
    "attribute_batch": "harness.attribution",
    "NeuronSet": "harness.localizers",
    "build_localizer": "harness.localizers",
    "load_model": "harness.models",
    "register": "harness.registry",
    "build_leaderboard": "harness.leaderboard",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
