"""Fixtures: fake run folders (see leaderboard_fakes) and one leaderboard built from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fakes import make_run


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "runs" / "tiny", "tiny-gpt", n_layers=4, seed=1)


def _two_models(root: Path) -> Path:
    make_run(root / "runs" / "a-tiny", "tiny-gpt", n_layers=4, seed=1)
    make_run(root / "runs" / "b-small", "small-llama", n_layers=6, seed=2, apps=True)
    (root / "runs" / "unfinished").mkdir()  # no summary.json: ignored
    return root / "runs"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """Two models, the second with the application tasks, and an unfinished run."""
    return _two_models(tmp_path)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The leaderboard of :func:`runs_dir`'s runs, built once (figures take seconds)."""
    from harness.leaderboard import build_leaderboard

    root = tmp_path_factory.mktemp("board")
    runs = _two_models(root)
    paths = build_leaderboard([runs], root / "leaderboard")
    return runs, paths
