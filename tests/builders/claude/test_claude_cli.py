"""`rml-build generate`, `cache export/import` and `build --rephrasings` from the command line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from builders.claude import client as claude_client
from builders.claude.fake import FakeClaude, http_client, job_of
from builders.cli import main

# the public sources, as tests/conftest.py finds them
SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[4] / "shared" / "data")
KEY = "sk-ant-CLI-secret-0123456789abcdef"
GOOD = {
    "P36": [
        "[X] on alue, jonka hallintokeskus on [Y].",
        "Kaupunki, joka on alueen [X] pääkaupunki, on [Y].",
        "[X] on alue, jonka hallinnollinen pääkaupunki on [Y].",
    ],
}


@pytest.fixture
def env(monkeypatch, tmp_path):
    import anthropic._base_client as base

    monkeypatch.setattr(base, "INITIAL_RETRY_DELAY", 0.001)
    monkeypatch.setattr(base, "MAX_RETRY_DELAY", 0.002)
    fake = FakeClaude(lambda body: json.dumps({"templates": GOOD[job_of(body)[0]]}))
    monkeypatch.setattr(claude_client, "HTTP_CLIENT_FACTORY", lambda: http_client(fake))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "fi.yaml").write_text('P36:\n  - "[X] on alue, jonka pääkaupunki on [Y]."\n')
    return fake


def args(tmp_path, *extra) -> list[str]:
    return [
        "generate",
        "--sources",
        str(SOURCES),
        "--languages",
        "fi",
        "--relations",
        "P36",
        "--per-relation",
        "3",
        "--cache",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "gen"),
        "--bank",
        str(tmp_path / "bank"),
        *extra,
    ]


def test_generate_never_shows_or_stores_the_key(env, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    env.fail = [429]  # a retry, logged by the SDK
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    r = CliRunner().invoke(main, ["-v", *args(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "fi" in r.output and "2 requests sent" not in r.output and "1 requests sent" in r.output
    assert "cost $" in r.output and "cache writes" in r.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "fi.yaml" for p in written)
    for p in written:
        assert KEY not in p.read_text(encoding="utf-8"), p
    assert KEY not in r.output and KEY not in caplog.text and caplog.text


def test_generate_with_key_file(env, tmp_path):
    key = tmp_path / "key.txt"
    key.write_text(KEY)
    r = CliRunner().invoke(main, args(tmp_path, "--key-file", str(key)))
    assert r.exit_code == 0, r.output
    assert KEY not in r.output


def test_generate_without_key_fails_cleanly(env, tmp_path):
    r = CliRunner().invoke(main, args(tmp_path))
    assert r.exit_code == 2 and "no API key" in r.output
    assert not env.requests


def test_dry_run_sends_nothing(env, tmp_path):
    r = CliRunner().invoke(main, args(tmp_path, "--dry-run", "--batch"))
    assert r.exit_code == 0, r.output
    assert "1 requests to claude-opus-5-5" in r.output and "half price" in r.output
    assert not env.requests and not (tmp_path / "gen").exists()


def test_interrupt_exits_130_and_resume_message(env, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)

    def interrupted(body):
        raise KeyboardInterrupt

    env.respond = interrupted
    r = CliRunner().invoke(main, args(tmp_path))
    assert r.exit_code == 130 and "Run the same command again to resume" in r.output


def test_failed_requests_exit_1_and_say_how_to_resume(env, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    env.fail = [529] * 10
    r = CliRunner().invoke(main, args(tmp_path, "--max-retries", "1"))
    assert r.exit_code == 1 and "run the same command again" in r.output
    assert KEY not in r.output


def test_cache_export_import_then_build_with_claude_templates(env, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    runner = CliRunner()
    assert runner.invoke(main, args(tmp_path)).exit_code == 0
    export = tmp_path / "cache.jsonl"
    r = runner.invoke(main, ["cache", "export", str(export), "--cache", str(tmp_path / "cache")])
    assert r.exit_code == 0 and "exported 1 responses" in r.output
    assert KEY not in export.read_text()
    r = runner.invoke(main, ["cache", "import", str(export), "--cache", str(tmp_path / "c2")])
    assert r.exit_code == 0 and "imported 1 responses" in r.output

    monkeypatch.delenv("ANTHROPIC_API_KEY")  # the imported cache is enough
    env.requests.clear()
    r = runner.invoke(
        main,
        ["generate", *args(tmp_path)[1:], "--cache", str(tmp_path / "c2"), "--out", str(tmp_path / "gen2")],
    )
    assert r.exit_code == 0, r.output
    assert not env.requests
    assert (tmp_path / "gen2" / "fi.yaml").read_text() == (tmp_path / "gen" / "fi.yaml").read_text()

    from builders.sources import read_facts

    first = min(read_facts(SOURCES, "fi", "P36"), key=lambda f: (f.lineid, f.uuid))
    (tmp_path / "gen" / "fi.facts.jsonl").write_text(
        json.dumps(
            {"uuid": first.uuid, "relation": "P36", "language": "fi", "query": "Tämän maan pääkaupunki on"}
        )
        + "\n",
        encoding="utf-8",
    )
    r = runner.invoke(
        main,
        [
            "build",
            "--sources",
            str(SOURCES),
            "--languages",
            "fi",
            "--relations",
            "P36",
            "--max-facts",
            "3",
            "--bank",
            str(tmp_path / "bank"),
            "--out",
            str(tmp_path / "ds"),
            "--rephrasings",
            "claude",
            "--generated",
            str(tmp_path / "gen"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["statistics"]["fi"]["origins"]["claude"] == 3 * manifest["statistics"]["fi"]["facts"]
    assert manifest["statistics"]["fi"]["origins"]["claude-fact"] == 1
    # the Python API builds the same dataset as the command line (the merge is in build.py)
    from builders.build import BuildConfig, build

    build(
        BuildConfig(
            sources=SOURCES,
            out=tmp_path / "ds-api",
            languages=["fi"],
            relations=["P36"],
            max_facts_per_relation=3,
            bank_dir=tmp_path / "bank",
            rephrasings="claude",
            generated_dir=tmp_path / "gen",
            progress=False,
        )
    )
    api = json.loads((tmp_path / "ds-api" / "manifest.json").read_text())
    assert api["content_hash"] == manifest["content_hash"]
