"""The extras: pyproject and rml_lama.extras agree, an evaluation runs without any of them,
and a command that needs one stops with a one-line error naming it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from rml_lama import extras

REPO = Path(__file__).resolve().parents[2]
IMPORT_NAME = {
    "lingua-language-detector": "lingua",
    "jinja2": "jinja2",
    "anthropic": "anthropic",
    "opencc": "opencc",
    "httpx2": "httpx2",
    "matplotlib": "matplotlib",
    "jsonschema": "jsonschema",
}
EXTRA_MODULES = sorted({m for mods in extras.EXTRAS.values() for m in mods})

# Run Python as if no extra were installed: importing one of their modules fails.
BLOCK = textwrap.dedent(f"""
    import sys
    BLOCKED = {EXTRA_MODULES!r}
    for name in BLOCKED:  # as if not installed: find_spec gives None, import raises
        sys.modules[name] = None
""")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0] for r in requirements}


def test_pyproject_extras_match_the_modules_named_in_errors():
    project = _pyproject()["project"]
    optional = project["optional-dependencies"]
    for extra, modules in extras.EXTRAS.items():
        reqs = optional[extra]
        wanted = {IMPORT_NAME[n] for n in _names(reqs) if n != "rml-lama"}
        for inner in (r for r in reqs if r.startswith("rml-lama[")):
            for e in inner[len("rml-lama[") : -1].split(","):
                wanted |= set(extras.EXTRAS[e])
        assert wanted == set(modules), extra
    base = _names(project["dependencies"])
    assert not base & set(IMPORT_NAME), "an extra's package is in the base install"
    dev = optional["dev"][0]
    assert dev.startswith("rml-lama[") and set(dev[9:-1].split(",")) == set(extras.EXTRAS)


def test_require_names_the_extra_in_one_line(monkeypatch):
    monkeypatch.setattr(extras, "_importable", lambda m: m != "lingua")
    with pytest.raises(extras.MissingExtraError) as e:
        extras.require("build", "rml-build build")
    msg = str(e.value)
    assert "\n" not in msg and "[build]" in msg and "missing: lingua" in msg
    assert 'pip install "rml-lama[build]"' in msg
    extras.require("leaderboard", "rml-leaderboard")  # nothing missing: no error
    with pytest.raises(ValueError, match="valid: build, claude, leaderboard"):
        extras.missing("nope")


def _blocked(code: str, tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), RML_LAMA_CACHE=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_commands_that_need_an_extra_say_which(tmp_path):
    out = _blocked(
        """
        import sys
        from click.testing import CliRunner
        from builders.cli import main as build
        from harness.leaderboard.cli import main as board
        for cli, args in ((build, ["build", "--out", "x"]), (build, ["generate", "--dry-run"]),
                          (board, ["schema"])):
            r = CliRunner().invoke(cli, args)
            print(r.exit_code, r.output.strip().splitlines()[-1])
    """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("2 rml-build: error: rml-build build needs the [build] extra")
    assert lines[1].startswith("2 rml-build: error: rml-build generate needs the [claude] extra")
    assert lines[2].startswith("2 rml-leaderboard: error: rml-leaderboard needs the [leaderboard]")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow  # a fresh interpreter importing torch and transformers: ~10 s CPU
def test_an_evaluation_runs_without_any_extra(tmp_path):
    """The base install is enough for rml-eval: a tiny random model on 1 fact, 2 languages."""
    from rml_lama import DATASET_DIR

    if not (DATASET_DIR / "manifest.json").exists():
        pytest.skip("needs the built dataset (rml-build)")
    from harness.adapters.tiny import tiny_model

    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    out = _blocked(
        f"""
        import sys
        from harness.cli import main
        try:
            main(["--localizer", "random", "--model", {str(tmp_path / "model")!r},
                  "--languages", "en,fi", "--facts", "1", "--steps", "2", "--quiet",
                  "--tasks", "layer-distribution", "--out", "run"])
        except SystemExit as e:
            assert not e.code, e.code
        print("blocked:", sorted(m for m, v in sys.modules.items()
                                 if v is not None and m.split(".")[0] in BLOCKED))
    """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "blocked: []" in out.stdout
    assert (tmp_path / "run" / "summary.json").exists()
