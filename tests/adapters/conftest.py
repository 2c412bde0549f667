"""Fixtures: tiny random models built offline from configs."""

from __future__ import annotations

import pytest
import torch


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
        return torch.tensor([r[:width] for r in rows], device=adapter.device)

    return make
