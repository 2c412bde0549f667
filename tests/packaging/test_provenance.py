"""Provenance in config.json/summary.json, ``rml-eval --version`` and ``--config run.yaml``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness import config_file, provenance
from harness.cli import main as cli
from harness.runs import RunFolder
from rml_lama import DATASET_DIR

REPO = Path(__file__).resolve().parents[2]


def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from harness.adapters.tiny import tiny_model

    path = tmp_path_factory.mktemp("model")
    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.skipif(
    not (DATASET_DIR / "manifest.json").exists(), reason="needs the built dataset (rml-build)"
)
def test_a_run_records_its_provenance(model_dir, tmp_path, monkeypatch):
    (tmp_path / "run.yaml").write_text(
        f"model: {model_dir}\nlocalizer: [random]\nlanguages: [en, fi]\nfacts: 3\nsteps: 2\n"
        "tasks: layer-distribution\nquiet: true\n",
        encoding="utf-8",
    )
    args = ["--config", str(tmp_path / "run.yaml"), "--facts", "1", "--out", str(tmp_path / "run")]
    monkeypatch.setattr(sys, "argv", ["/some/venv/bin/rml-eval", *args])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["localizers"]["random"]["facts"] == 1  # the flag overrode the file's 3
    p = summary["provenance"]
    assert p["package_version"] == version("rml-lama")
    assert p["git"]["commit"] == _head() and isinstance(p["git"]["dirty"], bool)
    assert p["python"] == ".".join(map(str, sys.version_info[:3]))
    for lib in ("torch", "transformers", "datasets"):
        assert p["libraries"][lib] == version(lib)
    assert p["command_line"] == ["rml-eval", *args]
    manifest = json.loads((DATASET_DIR / "manifest.json").read_text())
    assert p["dataset_hash"] == manifest["content_hash"]
    weights = sorted(model_dir.glob("*.safetensors"))
    assert len(weights) == 1
    expected = hashlib.sha256(f"{weights[0].name}\n".encode() + weights[0].read_bytes()).hexdigest()
    assert p["model"] == {
        "id": str(model_dir),
        "source": str(model_dir),
        "architecture": "gpt2",
        "kind": "causal",
        "weights_sha256": expected,
        "device": "cpu",
        "dtype": "float32",
    }
    stages = ["load data", "load model", "localize and run tasks", "merge and summarize"]
    assert [s["stage"] for s in p["stages"]] == stages
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in p["stages"])
    assert p["resumed"] is False and p["finished_at"] >= p["started_at"]
    # config.json carries the starting process's record; the summary repeats the config
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["provenance"]["command_line"] == p["command_line"]
    assert summary["config"] == config


def test_resume_ignores_a_different_provenance(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start({"model": "x", "provenance": {"libraries": {"torch": "2.4"}}}, resume=False)
    run.start({"model": "x", "provenance": {"libraries": {"torch": "2.13"}}}, resume=True)
    with pytest.raises(ValueError, match=r"other settings \(model\)"):
        run.start({"model": "y", "provenance": {}}, resume=True)


def test_weights_sha256_and_hub_revision(tmp_path, monkeypatch):
    (tmp_path / "b.safetensors").write_bytes(b"second")
    (tmp_path / "a.safetensors").write_bytes(b"first")
    (tmp_path / "config.json").write_text("{}")
    ref = hashlib.sha256(b"a.safetensors\nfirstb.safetensors\nsecond").hexdigest()
    assert provenance.weights_sha256(tmp_path) == ref
    assert provenance.weights_sha256(tmp_path / "nothing") is None
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    refs = tmp_path / "hub" / "models--org--name" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("0123abcd" * 5)
    assert provenance.hub_revision("org/name") == "0123abcd" * 5
    assert provenance.hub_revision("org/other") is None

    class Config:
        _commit_hash = "f" * 40

    class Model:
        config = Config()

    assert provenance.hub_revision("org/name", Model()) == "f" * 40


def test_laps_time_consecutive_stages():
    laps = provenance.Laps()
    time.sleep(0.05)
    laps.lap("sleep")
    sum(range(200_000))
    laps.lap("work")
    sleep, work = laps.as_list()
    assert sleep["stage"] == "sleep" and work["stage"] == "work"
    assert sleep["wall_s"] >= 0.05 and sleep["cpu_s"] < 0.05


def test_command_line_drops_the_install_path_and_keeps_python_m():
    assert provenance.command_line(["/venv/bin/rml-eval", "--facts", "2"], []) == ["rml-eval", "--facts", "2"]
    assert provenance.command_line(
        ["/repo/harness/cli.py", "demo"], ["/venv/bin/python", "-m", "harness.cli", "demo"]
    ) == ["python", "-m", "harness.cli", "demo"]


def test_version_names_the_package_and_the_commit():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert first.startswith(f"rml-eval {version('rml-lama')} (git {_head()[:12]}")
    assert f"torch {version('torch')}" in result.output


def test_version_outside_a_checkout_has_no_commit(monkeypatch):
    import rml_lama.home

    monkeypatch.setattr(rml_lama.home, "in_checkout", lambda *a: False)
    assert provenance.git_commit() is None
    assert "(git" not in provenance.version_text("rml-eval")


# -- --config ---------------------------------------------------------------------------------


@click.command()
@config_file.config_option("t")
@click.option("--localizer", "localizers")
@click.option("--facts", type=int)
@click.option("--all-queries", is_flag=True)
@click.option("--localizer-option", "loc_opts", multiple=True)
@click.option("--task-option", "task_opts", multiple=True)
def _cmd(**kw):
    click.echo(json.dumps(kw, sort_keys=True))


def _invoke(tmp_path, text: str, *flags: str):
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    return CliRunner().invoke(_cmd, ["--config", str(tmp_path / "c.yaml"), *flags])


def test_config_file_fills_defaults_and_flags_override(tmp_path):
    r = _invoke(
        tmp_path,
        "localizer: [matrice, amig]\nfacts: 5\nall_queries: true\n"
        "localizer-option: {matrice: {tau: 0.2}}\ntask-option: {inject: {steps: 50}}\n",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {
        "localizers": "matrice,amig",
        "facts": 5,
        "all_queries": True,
        "loc_opts": ["matrice.tau=0.2"],
        "task_opts": ["inject.steps=50"],
    }
    r = _invoke(tmp_path, "facts: 5\nlocalizer: random\n", "--facts", "2")
    assert json.loads(r.output)["facts"] == 2 and json.loads(r.output)["localizers"] == "random"


@pytest.mark.parametrize(
    "text, message",
    [
        ("bogus: 1\n", "c.yaml: unknown key 'bogus'; valid: all-queries, facts, localizer,"),
        ("facts: [1\n", "c.yaml line 2: not valid YAML"),
        ("- facts\n", "c.yaml: expected a mapping"),
        ("facts: {a: 1}\n", "c.yaml: facts: expected a value or a list, not a mapping"),
        ("facts: many\n", "'many' is not a valid integer"),
    ],
)
def test_config_file_errors_name_the_file_and_key(tmp_path, text, message):
    r = _invoke(tmp_path, text)
    assert r.exit_code == 2
    assert message in r.output


def test_the_demo_puts_its_stages_around_the_runs(tmp_path):
    from harness.demo import _add_stages

    run = RunFolder(tmp_path / "run")
    run.write_summary({"provenance": {"stages": [{"stage": "load data"}, {"stage": "load model"}]}})
    laps = provenance.Laps()
    for name in (
        "demo: build or find the dataset",
        "demo: train or load the model",
        "evaluation",
        "demo: leaderboard",
    ):
        laps.lap(name)
    _add_stages(run, laps)
    assert [s["stage"] for s in run.summary()["provenance"]["stages"]] == [
        "demo: build or find the dataset",
        "demo: train or load the model",
        "load data",
        "load model",
        "demo: leaderboard",
    ]
