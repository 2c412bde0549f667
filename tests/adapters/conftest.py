"""Fixtures: tiny random models built offline from configs."""

from __future__ import annotations

import pytest
import torch

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model


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
    model each call."""

    def make(family: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides):
        model, tok = tiny_model(family, seed=seed, dtype=dtype, **overrides)
        return get_adapter(model, tok)

    return make


@pytest.fixture
def ids(make_adapter):
    """``ids(adapter)``: a [2, 7] batch of ordinary token ids."""

    def make(adapter) -> torch.Tensor:
        tok = adapter.tokenizer
        rows = [
            tok("The capital of France is Paris")["input_ids"],
            tok("Tokyo is the capital of Japan")["input_ids"],
        ]
        width = min(len(r) for r in rows)
        return torch.tensor([r[:width] for r in rows])

    return make
