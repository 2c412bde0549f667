"""Run folders: atomic shards, resume semantics, config checks, deterministic merge."""

import json

import pytest

from harness.runs import RunFolder


def _neurons(fact, k=2):
    return [
        {"fact": fact, "relation": "P36", "localizer": "m", "layer": i, "index": i, "score": 1.0}
        for i in range(k)
    ]


def test_only_committed_shards_count(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start({"model": "x"}, resume=False)
    run.write_shard(0, 0, ["a", "b"], _neurons("a") + _neurons("b"), {"t": [{"fact": "a", "v": 1}]})
    # a shard killed before its done marker: data present, marker missing
    run.write_shard(0, 1, ["c"], _neurons("c"), {"t": [{"fact": "c", "v": 3}]})
    (run.shards / "r0-000001.done.json").unlink()
    assert run.done_facts() == {"a", "b"}
    assert {r["fact"] for r in run.collect(None)} == {"a", "b"}
    assert run.next_seq(0) == 1
    assert not list(run.shards.glob(".*"))  # no temporary files left behind


def test_resume_needs_flag_and_same_config(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start({"model": "x", "seed": 0}, resume=False)
    with pytest.raises(FileExistsError, match="--resume"):
        run.start({"model": "x", "seed": 0}, resume=False)
    run.start({"model": "x", "seed": 0}, resume=True)
    with pytest.raises(ValueError, match="other settings \\(seed\\)"):
        run.start({"model": "x", "seed": 1}, resume=True)


def test_merge_is_independent_of_shard_order(tmp_path):
    a, b = RunFolder(tmp_path / "a"), RunFolder(tmp_path / "b")
    for run in (a, b):
        run.start({"model": "x"}, resume=False)
    a.write_shard(
        0,
        0,
        ["f1", "f2"],
        _neurons("f1") + _neurons("f2"),
        {"t": [{"fact": "f1", "v": 1}, {"fact": "f2", "v": 2}]},
    )
    b.write_shard(1, 0, ["f2"], _neurons("f2"), {"t": [{"fact": "f2", "v": 2}]})
    b.write_shard(0, 0, ["f1"], _neurons("f1"), {"t": [{"fact": "f1", "v": 1}]})
    for run in (a, b):
        run.merge(["f1", "f2"], ["t"])
    assert a.neurons() == b.neurons()
    assert a.results("t") == b.results("t") == [{"fact": "f1", "v": 1}, {"fact": "f2", "v": 2}]
    run = RunFolder(tmp_path / "a")
    run.write_summary({"tasks": {}})
    assert json.loads((tmp_path / "a" / "summary.json").read_text()) == {"tasks": {}}


@pytest.mark.parametrize("victim", ["r0-000000.neurons.parquet", "r0-000000.t.parquet"])
def test_merge_refuses_a_committed_shard_with_a_missing_file(tmp_path, victim):
    """Before: the merge skipped the missing file and a resumed run exited 0 with fewer rows."""
    from harness.runs import RunError

    run = RunFolder(tmp_path / "run")
    run.start({"model": "x"}, resume=False)
    run.write_shard(0, 0, ["a"], _neurons("a"), {"t": [{"fact": "a", "v": 1}]})
    run.write_shard(0, 1, ["b"], _neurons("b"), {"t": [{"fact": "b", "v": 2}]})
    (run.shards / victim).unlink()
    for step in (
        lambda: run.merge(["a", "b"], ["t"]),
        run.done_facts,
        lambda: run.check_start({"model": "x"}, resume=True),
    ):
        with pytest.raises(RunError, match=rf"{victim}: missing, but shard r0-000000 is marked done.*delete"):
            step()
    assert not (run.path / "neurons.parquet").exists()


def test_an_unreadable_shard_file_is_named(tmp_path):
    from harness.runs import RunError

    run = RunFolder(tmp_path / "run")
    run.start({"model": "x"}, resume=False)
    run.write_shard(0, 0, ["a"], _neurons("a"), {"t": [{"fact": "a", "v": 1}]})
    (run.shards / "r0-000000.t.parquet").write_bytes(b"not parquet")
    with pytest.raises(RunError, match=r"r0-000000\.t\.parquet: unreadable parquet file"):
        run.merge(["a"], ["t"])


def test_leftover_shards_without_a_config_are_not_adopted(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start({"model": "x"}, resume=False)
    run.write_shard(0, 0, ["a"], _neurons("a"), {"t": []})
    (run.path / "config.json").unlink()
    with pytest.raises(ValueError, match="config.json is missing"):
        run.start({"model": "y"}, resume=True)
    assert not (run.path / "config.json").exists()
