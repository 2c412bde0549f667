"""Models: the registry of the paper's and other multilingual models, loading them by
name, and the embedded tiny models trained on RML-LAMA.

>>> from harness.models import load_model, load_splits
>>> lm = load_model("tiny-gpt")        # trains into the cache on first use  # doctest: +SKIP
>>> splits = load_splits("tiny-gpt")   # which facts it knows                # doctest: +SKIP

See ``docs/models.md``.
"""

from harness.models.cache import cache_root
from harness.models.loading import LoadedModel, ModelUnavailableError, load_model
from harness.models.specs import ModelSpec, model_specs, resolve_spec
from harness.models.splits import SPLIT_NAMES, TRAIN_LANGUAGES, SplitConfig, Splits, make_splits
from harness.models.tiny import (
    CONFIGS,
    TINY_MODELS,
    TinyConfig,
    load_report,
    load_splits,
    tiny_config,
    tiny_model_dir,
    train_tiny,
)
from harness.models.tokenizer import train_tokenizer
from harness.models.training import OptimConfig

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
