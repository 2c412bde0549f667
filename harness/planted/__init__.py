"""Planted knowledge neurons: ground truth for localization.

``planted:BASE`` (e.g. ``planted:tiny-gpt``) is a registered model name: the base model with
facts it does not know written into FFN neurons it barely uses, three kinds per fact
(language-agnostic, language-specific, decoy), checked before use; the ground truth is saved
beside the weights (``truth.json``). The ``ground-truth`` task scores localizers against it.
See ``docs/ground-truth.md``.

>>> from harness.planted import GroundTruth, build_planted
>>> truth = GroundTruth.load(build_planted("tiny-gpt"))   # doctest: +SKIP

Importing this package stays light; torch is imported by the functions that need it.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.planted.truth import KINDS, GroundTruth, PlantedFact, PlantedNeuron

_LAZY = {
    "PlantConfig": "harness.planted.plant",
    "plant": "harness.planted.plant",
    "CheckConfig": "harness.planted.checks",
    "run_checks": "harness.planted.checks",
    "build_planted": "harness.planted.model",
    "planted_model_dir": "harness.planted.model",
    "planted_spec": "harness.planted.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness.planted' has no attribute {name!r}")


__all__ = ["KINDS", "GroundTruth", "PlantedFact", "PlantedNeuron", *_LAZY]
