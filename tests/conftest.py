"""Shared fixtures: where the public sources are, and small bank folders.

The whole session runs with its own Hugging Face caches (``HF_HOME`` and the datasets/hub
caches under it, in a temporary folder removed at the end): set here, at import, before any
test module imports ``datasets`` or ``huggingface_hub``, which read them once. So a test
that loads a fixture folder named ``rml_lama`` leaves nothing in the user's cache, and no
test reads the user's cached datasets, models or Hub token.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The user's caches as they were, for the test that proves they are left alone.
_HF_CACHE_VARS = (
    "HF_DATASETS_CACHE",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_XET_CACHE",
    "HF_ASSETS_CACHE",
    "HF_TOKEN_PATH",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
)
USER_HF_ENV = {k: os.environ.get(k) for k in ("HF_HOME", "XDG_CACHE_HOME", *_HF_CACHE_VARS)}
HF_TEST_HOME = Path(tempfile.mkdtemp(prefix="rml-lama-tests-hf-"))
# Only HF_HOME is set: every cache (datasets/, hub/, xet/) and the token file derive from it,
# here and in the subprocesses tests start (which may point HF_HOME elsewhere themselves).
os.environ["HF_HOME"] = str(HF_TEST_HOME)
for _var in _HF_CACHE_VARS:
    os.environ.pop(_var, None)
for _mod in ("datasets", "huggingface_hub"):
    if _mod in sys.modules:  # a plugin imported it first: its paths are already fixed
        raise RuntimeError(f"tests/conftest.py: {_mod} was imported before the test caches were set")

import pytest  # noqa: E402
import torch  # noqa: E402

# Tiny models do tiny matrix products: one thread is faster, and immune to a loaded machine.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def _sources() -> Path:
    env = os.environ.get("RML_LAMA_SOURCES")
    return Path(env) if env else REPO.parent / "shared" / "data"


# The CLIs under test resolve the sources from $RML_LAMA_SOURCES when no --sources is given:
# point it at the shared copy, so that a plain `pytest` reads the sources from there and
# never tries to download them.
os.environ.setdefault("RML_LAMA_SOURCES", str(_sources()))


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


@pytest.fixture(scope="session")
def hf_isolation() -> tuple[Path, dict[str, str | None]]:
    """(the session's HF_HOME, the user's HF variables as they were before the session)."""
    return HF_TEST_HOME, dict(USER_HF_ENV)


def pytest_unconfigure(config):
    shutil.rmtree(HF_TEST_HOME, ignore_errors=True)
