"""Fixtures: tiny random models (built offline from configs) and their adapters."""

from __future__ import annotations

import pytest
import torch

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery

# Answers that the tiny tokenizers split into several tokens (checked in test_query.py).
SINGLE = ClozeQuery("The capital of France is", "Paris", ".")
MULTI = ClozeQuery("Dante Alighieri was born in", "Parisberg", ".")


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine the
    thread pool's spinning costs several times the work. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_adapter():
    """``make_adapter(family, seed=0, dtype=torch.float32, **config_overrides)``: a fresh
    model each call (tests may edit weights)."""

    def make(family: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides):
        model, tok = tiny_model(family, seed=seed, dtype=dtype, **overrides)
        return get_adapter(model, tok)

    return make
