"""Models: the registry of the paper's and other multilingual models, loading them by
name, and the embedded tiny models trained on RML-LAMA.

>>> from harness.models import load_model, load_splits
>>> lm = load_model("tiny-gpt")        # trains into the cache on first use  # doctest: +SKIP
>>> splits = load_splits("tiny-gpt")   # which facts it knows                # doctest: +SKIP

Importing this package registers the built-in model specs and stays light; torch and
transformers are imported when a function that needs them is first used. See
``docs/models.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.models.configs import CONFIGS, TINY_MODELS, OptimConfig, TinyConfig, tiny_config
from harness.models.specs import ModelSpec, model_specs, resolve_spec
from harness.models.splits import SPLIT_NAMES, TRAIN_LANGUAGES, SplitConfig, Splits, make_splits

if TYPE_CHECKING:
    from harness.models.cache import cache_root
    from harness.models.loading import LoadedModel, ModelUnavailableError, load_model
    from harness.models.tiny import load_report, load_splits, tiny_model_dir, train_tiny
    from harness.models.tokenizer import train_tokenizer

_LAZY = {
    "cache_root": "harness.models.cache",
    "LoadedModel": "harness.models.loading",
    "ModelUnavailableError": "harness.models.loading",
    "load_model": "harness.models.loading",
    "load_report": "harness.models.tiny",
    "load_splits": "harness.models.tiny",
    "tiny_model_dir": "harness.models.tiny",
    "train_tiny": "harness.models.tiny",
    "train_tokenizer": "harness.models.tokenizer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness.models' has no attribute {name!r}")


__all__ = [
    "CONFIGS",
    "SPLIT_NAMES",
    "TINY_MODELS",
    "TRAIN_LANGUAGES",
    "LoadedModel",
    "ModelSpec",
    "ModelUnavailableError",
    "OptimConfig",
    "SplitConfig",
    "Splits",
    "TinyConfig",
    "cache_root",
    "load_model",
    "load_report",
    "load_splits",
    "make_splits",
    "model_specs",
    "resolve_spec",
    "tiny_config",
    "tiny_model_dir",
    "train_tiny",
    "train_tokenizer",
]
