"""``rml-leaderboard``: build (default command), export, submit, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from leaderboard_fakes import make_run

from harness.leaderboard.cli import main


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_command_builds_from_runs(cwd: Path) -> None:
    make_run(cwd / "runs" / "tiny", "tiny-gpt")
    result = CliRunner().invoke(main, ["--no-figures"])  # figures: see test_leaderboard_figures
    assert result.exit_code == 0, result.output
    assert "open leaderboard/index.html" in result.output
    assert (cwd / "leaderboard" / "index.html").exists()
    assert (cwd / "leaderboard" / "tables" / "dp-enhance.csv").exists()
    assert not (cwd / "leaderboard" / "figures").exists()


def test_export_then_submit(cwd: Path) -> None:
    run = make_run(cwd / "runs" / "p", "tiny-gpt", localizers=("acme/sparse",))
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "export",
            str(run),
            "--out",
            "sub.json",
            "--submitter",
            "me",
            "--package",
            "acme-sparse",
            "--package-version",
            "1.0",
        ],
    )
    assert result.exit_code == 0, result.output
    sub = json.loads((cwd / "sub.json").read_text())
    assert sub["localizer"] == {"name": "acme/sparse", "package": "acme-sparse", "version": "1.0"}
    result = runner.invoke(main, ["submit", "sub.json"])
    assert result.exit_code == 0, result.output
    added = list((cwd / "leaderboard" / "submissions").glob("*.json"))
    assert [p.name for p in added] == [f"acme-sparse__tiny-gpt__{'ab' * 6}.json"]
    result = runner.invoke(main, ["build", "--no-figures", "--runs", "nothing-here"])
    assert result.exit_code == 2  # an explicit run folder that does not exist
    result = runner.invoke(main, ["--no-figures"])  # runs/ + the submission (a clash)
    assert result.exit_code == 0, result.output
    assert "acme/sparse on tiny-gpt is in both run p and submission" in result.output


def test_submit_rejects_with_the_json_path(cwd: Path) -> None:
    (cwd / "bad.json").write_text(json.dumps({"schema_version": 1, "model": 7}))
    result = CliRunner().invoke(main, ["submit", "bad.json"])
    assert result.exit_code == 1
    assert "invalid submission" in result.output
    assert "$.model: 7 is not of type 'string'" in result.output
    assert "$: 'tasks' is a required property" in result.output
    assert not (cwd / "leaderboard" / "submissions").exists()


def test_missing_run_folder_is_an_error(cwd: Path) -> None:
    result = CliRunner().invoke(main, ["build", "nowhere"])
    assert result.exit_code == 2 and "nowhere: no such folder" in result.output


def test_schema_command_writes_the_schema(cwd: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "--out", "s.json"])
    assert result.exit_code == 0
    assert json.loads((cwd / "s.json").read_text())["title"] == "RML-LAMA leaderboard submission"
