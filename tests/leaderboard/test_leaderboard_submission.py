"""Submissions: the schema accepts a good one, rejects bad ones naming the JSON path, and
export → submit → build round-trips a run."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from leaderboard_fakes import DATASET_HASH, make_run

from harness.leaderboard import (
    SubmissionError,
    build_leaderboard,
    export_run,
    submit_file,
    validate,
    write_submission,
)
from harness.leaderboard.submission import schema_text

REPO = Path(__file__).resolve().parents[2]


def good() -> dict:
    return {
        "schema_version": 1,
        "localizer": {"name": "acme/sparse", "package": "acme-sparse", "version": "1.2.0"},
        "model": "tiny-gpt",
        "dataset_hash": DATASET_HASH,
        "submitter": "acme",
        "tasks": {
            "suppress-enhance": [
                {
                    "localizer": "acme/sparse",
                    "language": "fi",
                    "dp_enhance": 0.5,
                    "dp_suppress": -0.25,
                    "queries": 12,
                    "facts": 4,
                },
                {
                    "localizer": "acme/sparse",
                    "language": "ko",
                    "dp_enhance": None,
                    "dp_suppress": -0.5,
                    "queries": 3,
                    "facts": 1,
                },
            ],
            "layer-distribution": [
                {"localizer": "acme/sparse", "layer": 0, "neurons": 3, "share": 0.75, "facts": 4},
                {"localizer": "acme/sparse", "layer": 1, "neurons": 1, "share": 0.25, "facts": 4},
            ],
            # a plugin task not installed here: a localizer and scalar fields
            "acme-probe": [{"localizer": "acme/sparse", "language": "en", "acc_new": 0.5, "acc_old": 1.0}],
        },
    }


def test_committed_schema_is_current() -> None:
    committed = REPO / "leaderboard" / "submission.schema.json"
    assert committed.read_text(encoding="utf-8") == schema_text(), (
        "leaderboard/submission.schema.json is stale: run `rml-leaderboard schema`"
    )
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(json.loads(committed.read_text()))


def test_good_submission_is_accepted() -> None:
    assert validate(good()) == []


def _set(obj: dict, path: tuple, value) -> dict:
    obj = copy.deepcopy(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("model",), KeyError, "$: 'model' is a required property"),
        (("model",), 3, "$.model: 3 is not of type 'string'"),
        (("schema_version",), 2, "$.schema_version"),
        (("dataset_hash",), "not-a-hash", "$.dataset_hash"),
        (("localizer", "version"), KeyError, "$.localizer: 'version' is a required property"),
        (("localizer", "name"), "bad name!", "$.localizer.name"),
        (("tasks",), {}, "$.tasks"),
        (("tasks", "suppress-enhance", 0, "queries"), -1, "$.tasks['suppress-enhance'][0].queries"),
        (("tasks", "suppress-enhance", 1, "language"), "de", "$.tasks['suppress-enhance'][1].language"),
        (("tasks", "suppress-enhance", 0, "dp_enhance"), "0.5", "$.tasks['suppress-enhance'][0].dp_enhance"),
        (("tasks", "layer-distribution", 1, "share"), 1.5, "$.tasks['layer-distribution'][1].share"),
        (
            ("tasks", "suppress-enhance", 0, "facts"),
            KeyError,
            "$.tasks['suppress-enhance'][0]: 'facts' is a required property",
        ),  # from the row type
        (
            ("tasks", "acme-probe", 0, "localizer"),
            KeyError,
            "$.tasks['acme-probe'][0]: 'localizer' is a required property",
        ),
        (("tasks", "acme-probe", 0, "acc_new"), [0.5], "$.tasks['acme-probe'][0].acc_new"),
        (("tasks", "Bad Task"), [], "$.tasks"),
        (("extra",), 1, "$: Additional properties are not allowed ('extra' was unexpected)"),
    ],
)
def test_bad_submissions_are_rejected_with_the_path(path: tuple, value, where: str) -> None:
    errors = validate(_set(good(), path, value))
    assert errors and any(e.startswith(where) for e in errors), errors


def test_semantic_checks_name_the_path() -> None:
    errors = validate(_set(good(), ("localizer", "name"), "other"))
    assert errors == ["$.localizer.name: no row of $.tasks is about localizer 'other'"]
    dup = good()
    dup["tasks"]["suppress-enhance"][1]["language"] = "fi"
    assert validate(dup) == ['$.tasks["suppress-enhance"][1]: the same localizer, language as row 0']


def test_submit_rejects_with_the_path_and_nan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_set(good(), ("tasks", "suppress-enhance", 0, "queries"), -1)))
    with pytest.raises(SubmissionError, match=r"\$\.tasks\['suppress-enhance'\]\[0\]\.queries"):
        submit_file(bad, tmp_path / "subs")
    bad.write_text(json.dumps(good()).replace('"dp_enhance": 0.5', '"dp_enhance": NaN'))
    with pytest.raises(SubmissionError, match=r"\$: NaN is not valid JSON"):
        submit_file(bad, tmp_path / "subs")
    bad.write_text("{")
    with pytest.raises(SubmissionError, match=r"\$: not JSON \(line 1"):
        submit_file(bad, tmp_path / "subs")
    assert not (tmp_path / "subs").exists()


def test_submit_adds_once_and_replaces_only_when_asked(tmp_path: Path) -> None:
    f = tmp_path / "sub.json"
    write_submission(good(), f)
    dest = submit_file(f, tmp_path / "subs")
    assert dest.parent == tmp_path / "subs" and json.loads(dest.read_text()) == good()
    assert submit_file(f, tmp_path / "subs") == dest  # the same again: fine
    write_submission(_set(good(), ("submitter",), "someone else"), f)
    with pytest.raises(FileExistsError, match="--replace"):
        submit_file(f, tmp_path / "subs")
    submit_file(f, tmp_path / "subs", replace=True)
    assert json.loads(dest.read_text())["submitter"] == "someone else"


def test_export_submit_build_round_trip(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "sparse", "tiny-gpt", seed=3, localizers=("acme/sparse", "random"))
    summary = json.loads((run / "summary.json").read_text())
    with pytest.raises(ValueError, match="--localizer"):
        export_run(run)  # two localizers: which one?
    sub = export_run(run, localizer="acme/sparse", submitter="acme")
    assert sub["localizer"] == {"name": "acme/sparse", "package": "rml-lama", "version": "0.1.0"}
    assert sub["model"] == "tiny-gpt" and sub["dataset_hash"] == DATASET_HASH
    expected = [r for r in summary["tasks"]["suppress-enhance"] if r["localizer"] == "acme/sparse"]
    assert sub["tasks"]["suppress-enhance"] == expected
    assert "ablation" not in sub["tasks"]  # MATRICE's variants are not acme/sparse's
    f = write_submission(sub, tmp_path / "sparse.json")
    with_base = export_run(run, localizer="acme/sparse", with_baselines=True)
    nan_row = next(
        r
        for r in with_base["tasks"]["suppress-enhance"]
        if r["localizer"] == "random" and r["language"] == "ko"
    )
    assert nan_row["dp_enhance"] is None  # NaN → null
    assert validate(with_base) == []

    board = tmp_path / "board"
    dest = submit_file(f, board / "submissions")
    assert json.loads(dest.read_text()) == json.loads(f.read_text())
    other = make_run(tmp_path / "runs2" / "base", "small-llama", seed=4)
    paths = build_leaderboard([other], board, figures=False)  # submissions: from board/
    rows = {
        r["localizer"]: r
        for r in csv.DictReader(io.StringIO((board / "tables" / "dp-enhance.csv").read_text()))
    }
    for rec in expected:
        assert float(rows["acme/sparse"][f"tiny-gpt:{rec['language']}"]) == rec["dp_enhance"]
    assert rows["matrice"]["tiny-gpt:fi"] == ""  # the submission has no matrice rows
    html = paths.index.read_text()
    assert "acme/sparse" in html and "submission" in html and "acme" in html


def test_a_broken_submission_in_the_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    subs = tmp_path / "board" / "submissions"
    subs.mkdir(parents=True)
    (subs / "broken.json").write_text(json.dumps(_set(good(), ("model",), 3)))
    write_submission(good(), subs / "ok.json")
    paths = build_leaderboard([], tmp_path / "board", figures=False)
    assert any("broken.json" in w and "$.model" in w for w in paths.warnings)
    assert "acme/sparse" in paths.index.read_text()
