"""Shared fixtures: where the public sources are, and small bank folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tiny models do tiny matrix products: one thread is faster, and immune to a loaded machine.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def _sources() -> Path:
    env = os.environ.get("RML_LAMA_SOURCES")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sources_dir() -> Path:
    path = _sources()
    if not (path / "mlama1.1").is_dir():
        pytest.fail(f"the source data is missing at {path}; set RML_LAMA_SOURCES")
    return path


# RML_LAMA_TEST_DEVICE=cuda runs every test built on make_adapter with the model on the GPU.
TEST_DEVICE = os.environ.get("RML_LAMA_TEST_DEVICE", "cpu")


@pytest.fixture
def test_device() -> str:
    return TEST_DEVICE


@pytest.fixture
def make_adapter():
    """``make_adapter(family, seed=0, dtype=torch.float32, **config_overrides)``: a fresh
    tiny random model (built offline from a config) and its adapter, on ``TEST_DEVICE``;
    tests may edit it."""
    from harness.adapters import get_adapter
    from harness.adapters.tiny import tiny_model

    def make(family: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides):
        model, tok = tiny_model(family, seed=seed, dtype=dtype, **overrides)
        return get_adapter(model.to(TEST_DEVICE), tok)

    return make


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's cache unless it sets its own."""
    if "RML_LAMA_CACHE" not in os.environ:
        monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
