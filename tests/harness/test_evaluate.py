"""The evaluation loop end to end on a tiny random GPT-2 saved to a local folder."""

import json
import shutil

import pytest
from click.testing import CliRunner

import harness.models
from harness.adapters.tiny import tiny_model
from harness.cli import main as cli
from harness.evaluate import EvalConfig, evaluate
from rml_lama import DATASET_DIR

pytestmark = pytest.mark.skipif(
    not (DATASET_DIR / "manifest.json").exists(), reason="needs the built dataset (rml-build)"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _cfg(model_dir, out, **kw):
    base = dict(
        model=str(model_dir),
        localizers=["matrice", "random"],
        tasks=["layer-distribution", "suppress-enhance", "ablation"],
        languages=["en", "fi"],
        facts=2,
        out=str(out),
        steps=4,
        correct_only=False,
        progress=False,
        shard_size=1,
    )
    base.update(kw)
    return EvalConfig(**base)


def test_run_folder_contents(model_dir, tmp_path):
    run = evaluate(_cfg(model_dir, tmp_path / "run"))
    cfg = json.loads((run.path / "config.json").read_text())
    assert cfg["dataset_hash"] == json.loads((DATASET_DIR / "manifest.json").read_text())["content_hash"]
    summary = run.summary()
    assert set(summary["tasks"]) == {"layer-distribution", "suppress-enhance", "ablation"}
    se = summary["tasks"]["suppress-enhance"]
    assert {r["language"] for r in se} == {"en", "fi", "all"}  # all: pooled over languages
    assert all(
        r["dp_suppress_ci_low"] <= r["dp_suppress"] <= r["dp_suppress_ci_high"]
        for r in se
        if r["localizer"] == "matrice" and r["facts"] >= 2
    )
    assert summary["localizers"]["matrice-no-ual"]["facts"] == 2  # counted even with no neuron
    # ablation requires the two variants: the harness added them
    assert {r["localizer"] for r in summary["tasks"]["ablation"]} <= {
        "matrice",
        "matrice-no-uaq",
        "matrice-no-ual",
    }
    facts = {r["fact"] for r in run.results("suppress-enhance")}
    assert len(facts) == 2
    # random picks as many neurons as matrice, fact by fact
    counts = {}
    for r in run.neurons():
        counts.setdefault((r["fact"], r["localizer"]), 0)
        counts[(r["fact"], r["localizer"])] += 1
    for fact in facts:
        assert counts.get((fact, "random"), 0) == counts.get((fact, "matrice"), 0)


def test_killed_run_resumes_to_the_same_results(model_dir, tmp_path):
    full = evaluate(_cfg(model_dir, tmp_path / "full", facts=3))
    part = tmp_path / "part"
    evaluate(_cfg(model_dir, part, facts=3))
    # kill after the first fact: drop the later shards' commit marks and the merged outputs
    markers = sorted((part / "shards").glob("*.done.json"))
    for m in markers[1:]:
        m.unlink()
    for name in ("neurons.parquet", "summary.json"):
        (part / name).unlink()
    shutil.rmtree(part / "results")
    resumed = evaluate(_cfg(model_dir, part, facts=3, resume=True))
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN == NaN  # noqa: E731
    assert resumed.neurons() == full.neurons()
    for task in ("suppress-enhance", "layer-distribution"):
        assert same(resumed.results(task), full.results(task))
    assert same(resumed.summary()["tasks"], full.summary()["tasks"])


def test_unknown_names_fail_before_loading(monkeypatch, model_dir, tmp_path):
    def no_load(*a, **k):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(harness.models, "load_model", no_load)
    with pytest.raises(LookupError, match="unknown localizer 'nope'; valid choices: amig"):
        evaluate(_cfg(model_dir, tmp_path / "x", localizers=["nope"]))
    with pytest.raises(ValueError, match="unknown language.*xx"):
        evaluate(_cfg(model_dir, tmp_path / "x", languages=["en", "xx"]))
    with pytest.raises(LookupError, match="unknown task 'fig9'"):
        evaluate(_cfg(model_dir, tmp_path / "x", tasks=["fig9"]))
    with pytest.raises(ValueError, match="task 'inject': unknown option.*step; valid options: lr, old_facts"):
        evaluate(_cfg(model_dir, tmp_path / "x", tasks=["inject"], task_options={"inject": {"step": 3}}))
    with pytest.raises(ValueError, match="'inject' is not among the run's tasks.*suppress-enhance"):
        evaluate(
            _cfg(model_dir, tmp_path / "x", tasks=["suppress-enhance"], task_options={"inject": {"steps": 3}})
        )
    with pytest.raises(ValueError, match="TASK.KEY=VALUE now; did you mean inject.steps"):
        evaluate(_cfg(model_dir, tmp_path / "x", tasks=["inject"], task_options={"inject_steps": 3}))
    with pytest.raises(ValueError, match="option inject.steps: expected int, got 'many'"):
        evaluate(
            _cfg(model_dir, tmp_path / "x", tasks=["inject"], task_options={"inject": {"steps": "many"}})
        )
    with pytest.raises(ValueError, match="--device 'gpu': not a device"):
        evaluate(_cfg(model_dir, tmp_path / "x", device="gpu"))
    with pytest.raises(ValueError, match="--steps must be at least 1, not 0"):
        evaluate(_cfg(model_dir, tmp_path / "x", steps=0))
    with pytest.raises(ValueError, match="--tasks: give at least one task"):
        evaluate(_cfg(model_dir, tmp_path / "x", tasks=[]))
    assert not (tmp_path / "x").exists()


def test_task_options_and_max_rows_reach_the_run(monkeypatch, model_dir, tmp_path):
    """--task-option values arrive typed in the task's fields, the context is typed;
    --max-rows reaches the engine."""
    import harness.tasks.inject as inj
    from harness.localizers import provider

    seen = {}
    real_init = provider.EngineProvider.__init__

    def spy_eval(self, ctx, fact, neurons):
        seen.update(
            steps=self.steps, lr=self.lr, facts=len(ctx.facts), model=ctx.model, pool=ctx.pool.facts(["en"])
        )
        return []

    def spy_init(self, *a, **k):
        seen["max_rows"] = k.get("max_rows")
        real_init(self, *a, **k)

    monkeypatch.setattr(inj.Inject, "evaluate", spy_eval)
    monkeypatch.setattr(provider.EngineProvider, "__init__", spy_init)
    res = CliRunner().invoke(
        cli,
        [
            "--localizer",
            "random",
            "--model",
            str(model_dir),
            "--languages",
            "en",
            "--facts",
            "1",
            "--steps",
            "2",
            "--tasks",
            "inject",
            "--task-option",
            "inject.steps=3",
            "--task-option",
            "inject.lr=0.5",
            "--max-rows",
            "7",
            "--out",
            str(tmp_path / "run"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert seen["steps"] == 3 and seen["lr"] == 0.5 and seen["max_rows"] == 7
    assert seen["facts"] == 1 and seen["model"].spec.hf_id == str(model_dir) and len(seen["pool"]) > 1
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["task_options"] == {"inject": {"steps": 3, "lr": 0.5}} and "max_rows" not in cfg


def test_no_results_says_why_and_known_only_refuses(model_dir, tmp_path):
    """A random tiny model answers nothing: the summary says so, and --known-only refuses."""
    from harness.data import load_facts
    from harness.summary import summary_text

    run = evaluate(
        _cfg(
            model_dir,
            tmp_path / "run",
            tasks=["suppress-enhance"],
            facts=1,
            correct_only=True,
            task_options={"suppress-enhance": {"other_facts": 0}},
        )
    )
    summary = run.summary()
    assert summary["tasks"]["suppress-enhance"] == []
    text = summary_text(summary)
    assert "(no results: 0 of" in text and "answered correctly by" in text and "--known-only" in text
    two = [f.uuid for f in load_facts(["en", "fi"], limit=2)]
    with pytest.raises(ValueError, match="--known-only: .* answers none of the 2 selected facts"):
        evaluate(_cfg(model_dir, tmp_path / "k", tasks=["suppress-enhance"], known_only=True, fact_ids=two))


def test_cli_errors_list_choices():
    res = CliRunner().invoke(cli, ["--localizer", "matrice", "--model", "no-such-model"])
    assert res.exit_code == 2
    assert "no-such-model" in res.output and "mgpt" in res.output
    res = CliRunner().invoke(
        cli, ["--localizer", "matrice", "--model", "mgpt", "--localizer-option", "tau0.3"]
    )
    assert res.exit_code == 2 and "LOCALIZER.KEY=VALUE" in res.output
    res = CliRunner().invoke(cli, ["--localizer", "matrice", "--model", "mgpt", "--task-option", "x"])
    assert res.exit_code == 2 and "TASK.KEY=VALUE" in res.output and "--task-option" in res.output
    res = CliRunner().invoke(
        cli, ["--localizer", "matrice", "--model", "mgpt", "--task-option", "edit_lambda1=4"]
    )
    assert res.exit_code == 2 and "did you mean edit-update.lambda1" in res.output
    res = CliRunner().invoke(cli, ["list"])
    assert res.exit_code == 0 and "suppress-enhance" in res.output and "matrice" in res.output
    assert "--task-option inject.steps=20" in res.output


def test_bad_fact_ids_and_dataset_are_named(monkeypatch, model_dir, tmp_path):
    def no_load(*a, **k):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(harness.models, "load_model", no_load)
    ids = tmp_path / "ids.txt"
    ids.write_text("# facts to run\n\nno-such-fact\n", encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "--localizer",
            "random",
            "--model",
            str(model_dir),
            "--fact-ids",
            str(ids),
            "--out",
            str(tmp_path / "run"),
            "-q",
        ],
    )
    assert res.exit_code == 2
    assert f"'no-such-fact' ({ids}:3)" in res.output and "`uuid` column" in res.output
    res = CliRunner().invoke(
        cli,
        [
            "--localizer",
            "random",
            "--model",
            str(model_dir),
            "--dataset",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "run"),
            "-q",
        ],
    )
    assert res.exit_code == 2 and f"--dataset {tmp_path / 'nowhere'}: no RML-LAMA data there" in res.output


class _FailsOnSecondFact:
    """A localizer that raises on every fact but the first it sees."""

    def __init__(self) -> None:
        self.seen = 0

    def localize(self, fact, provider):
        self.seen += 1
        if self.seen > 1:
            raise RuntimeError("deliberate failure")
        import torch

        from harness.localizers.base import NeuronSet

        return NeuronSet(neurons=torch.tensor([[0, 1]]), scores=torch.tensor([1.0]))


def test_localizer_failures_are_recorded_and_reported(monkeypatch, model_dir, tmp_path):
    from harness import registry

    monkeypatch.setitem(
        registry._REGISTRY.entries["localizer"],
        "fails-later",
        registry.Entry("localizer", "fails-later", _FailsOnSecondFact, "test", "test"),
    )
    res = CliRunner().invoke(
        cli,
        [
            "--localizer",
            "fails-later",
            "--model",
            str(model_dir),
            "--languages",
            "en",
            "--facts",
            "3",
            "--steps",
            "2",
            "--tasks",
            "layer-distribution",
            "--out",
            str(tmp_path / "run"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    failed = summary["failures"]["localizer fails-later"]
    assert failed["facts"] == 2 and failed["of"] == 3 and "deliberate failure" in failed["first"]
    assert "localizer fails-later: 2 of 3 facts" in res.output
    assert summary["localizers"]["fails-later"]["facts"] == 1


def test_a_task_skipped_for_a_failed_localizer_is_reported(monkeypatch, model_dir, tmp_path):
    """ablation needs matrice-no-ual; when that fails on a fact, ablation skips the fact."""
    from harness import registry

    monkeypatch.setitem(
        registry._REGISTRY.entries["localizer"],
        "matrice-no-ual",
        registry.Entry("localizer", "matrice-no-ual", _FailsOnSecondFact, "test", "test"),
    )
    run = evaluate(
        _cfg(
            model_dir,
            tmp_path / "run",
            localizers=["matrice"],
            tasks=["ablation"],
            languages=["en"],
            facts=3,
            steps=2,
        )
    )
    failures = run.summary()["failures"]
    assert failures["localizer matrice-no-ual"]["facts"] == 2
    assert (failures["task ablation"]["facts"], failures["task ablation"]["of"]) == (2, 3)
    assert "skipped on fact" in failures["task ablation"]["first"]
    assert "matrice-no-ual" in failures["task ablation"]["first"]
    assert len(run.failures()) == 4
