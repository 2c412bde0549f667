"""Tables: the numbers of the summaries, in the paper's layout, as Markdown and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from leaderboard_fakes import LANGS, make_run

from harness.leaderboard import load_sources
from harness.leaderboard.sources import combine
from harness.leaderboard.tables import build_tables, to_csv, to_markdown


def _tables(*runs: Path) -> dict:
    sources, _ = load_sources(runs)
    rows, models, _ = combine(sources)
    return {t.id: t for t in build_tables(rows, models)}


def _csv(table) -> list[dict]:
    return list(csv.DictReader(io.StringIO(to_csv(table))))


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_dp_tables_hold_the_summary_numbers_per_language(tiny_run: Path) -> None:
    tables = _tables(tiny_run)
    dp = [r for r in _summary(tiny_run)["tasks"]["suppress-enhance"]]
    for metric, key in (("enhance", "dp_enhance"), ("suppress", "dp_suppress")):
        table = tables[f"dp-{metric}"]
        assert [c.label for c in table.columns] == [*LANGS, "avg"]
        assert {c.group for c in table.columns} == {"tiny-gpt"}
        # the paper's row order: Random, AMIG, MATRICE, then the ablations
        assert [r.key for r in table.rows] == [
            "random",
            "amig",
            "matrice",
            "matrice-no-uaq",
            "matrice-no-ual",
        ]
        rows = {r["localizer"]: r for r in _csv(table)}
        for rec in dp:
            got = rows[rec["localizer"]]
            cell = got[f"tiny-gpt:{rec['language']}"]
            if math.isnan(rec[key]):
                assert cell == ""
            else:
                assert float(cell) == rec[key]  # exact: CSV keeps round-trip precision
            assert int(got[f"tiny-gpt:{rec['language']}:n"]) == rec["queries"]
        for loc, got in rows.items():
            vals = [r[key] for r in dp if r["localizer"] == loc and not math.isnan(r[key])]
            assert float(got["tiny-gpt:avg"]) == pytest.approx(sum(vals) / len(vals))
            assert int(got["tiny-gpt:avg:n"]) == sum(
                r["queries"] for r in dp if r["localizer"] == loc and not math.isnan(r[key])
            )


def test_markdown_cells_show_the_value_and_the_queries(tiny_run: Path) -> None:
    table = _tables(tiny_run)["dp-enhance"]
    md = to_markdown(table).splitlines()
    header = next(line for line in md if line.startswith("| Localizer"))
    assert header == "| Localizer | zh | en | fr | fi | hu | ja | ko | avg |"
    assert "Model: tiny-gpt." in "\n".join(md)
    rec = next(
        r
        for r in _summary(tiny_run)["tasks"]["suppress-enhance"]
        if r["localizer"] == "matrice" and r["language"] == "fi"
    )
    row = next(line for line in md if line.startswith("| MATRICE |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    n = f"{rec['facts']}/{rec['queries']}" if "facts" in rec else rec["queries"]  # facts/queries
    assert cells[1 + LANGS.index("fi")] == f"{100 * rec['dp_enhance']:+.1f}% (n={n})"
    random_row = next(line for line in md if line.startswith("| Random |"))
    assert [c.strip() for c in random_row.strip("|").split("|")][1 + LANGS.index("ko")] == "–"


def test_ablation_table_is_table_two(tiny_run: Path) -> None:
    table = _tables(tiny_run)["ablation"]
    assert [c.label for c in table.columns] == ["Enhance", "Suppress", "Average"]
    assert [r.label for r in table.rows] == ["MATRICE", "w/o UaQ", "w/o UaL"]
    md = to_markdown(table)
    assert "| MATRICE | 1.000 (n=210) | 1.000 (n=210) |" in md
    assert "| w/o UaQ | 0.713 (n=205) | 0.845 (n=205) |" in md
    rows = _csv(table)
    assert [r["localizer"] for r in rows] == ["matrice", "matrice-no-uaq", "matrice-no-ual"]
    assert float(rows[2]["tiny-gpt:Enhance"]) == 0.652
    assert float(rows[2]["tiny-gpt:Suppress"]) == 0.911


def test_layer_table_holds_the_shares(tiny_run: Path) -> None:
    table = _tables(tiny_run)["layer-distribution"]
    assert [c.label for c in table.columns] == ["L0", "L1", "L2", "L3"]
    rows = {r["localizer"]: r for r in _csv(table)}
    for rec in _summary(tiny_run)["tasks"]["layer-distribution"]:
        assert float(rows[rec["localizer"]][f"tiny-gpt:L{rec['layer']}"]) == rec["share"]
        assert int(rows[rec["localizer"]][f"tiny-gpt:L{rec['layer']}:n"]) == rec["neurons"]


def test_one_column_group_per_model(runs_dir: Path) -> None:
    table = _tables(runs_dir)["dp-suppress"]
    assert [g for g, _ in table.groups] == ["tiny-gpt", "small-llama"]
    assert [n for _, n in table.groups] == [8, 8]
    assert table.headers()[1] == "tiny-gpt zh"
    small = _summary(runs_dir / "b-small")["tasks"]["suppress-enhance"]
    rows = {r["localizer"]: r for r in _csv(table)}
    for rec in small:
        got = rows[rec["localizer"]][f"small-llama:{rec['language']}"]
        assert got == "" if math.isnan(rec["dp_suppress"]) else float(got) == rec["dp_suppress"]
    layers = _tables(runs_dir)["layer-distribution"]
    assert [n for _, n in layers.groups] == [4, 6]  # each model its own layers


def test_application_tables_only_when_present(tiny_run: Path, runs_dir: Path) -> None:
    assert not any(t.startswith(("edit-", "inject", "enhance-low")) for t in _tables(tiny_run))
    tables = _tables(runs_dir)
    erasure = _summary(runs_dir / "b-small")["tasks"]["edit-erasure"]
    for metric in ("reliability", "generality", "locality", "mean"):
        table = tables[f"edit-erasure-{metric}"]
        assert [c.label for c in table.columns] == [f"en→{lang}" for lang in LANGS] + ["avg"]
        assert [r.label for r in table.rows] == ["Random", "AMIG", "MATRICE"]
        assert {c.group for c in table.columns} == {"small-llama"}  # only that run has it
        rows = {r["localizer"]: r for r in _csv(table)}
        n_key = "facts" if metric == "mean" else f"{metric}_queries"
        for rec in erasure:
            col = f"small-llama:en→{rec['language']}"
            assert float(rows[rec["localizer"]][col]) == rec[metric]
            assert int(rows[rec["localizer"]][f"{col}:n"]) == rec[n_key]  # the metric's own count
    assert "edit-update-reliability" not in tables  # no edit-update records

    low = tables["enhance-low-resource-accuracy"]
    assert [c.label for c in low.columns] == ["fi", "hu", "ja", "ko", "avg"]
    rows = {r["localizer"]: r for r in _csv(low)}
    for rec in _summary(runs_dir / "b-small")["tasks"]["enhance-low-resource"]:
        if rec["relation"] == "all":  # the per-relation rows are not added in
            assert float(rows[rec["localizer"]][f"small-llama:{rec['language']}"]) == rec["accuracy"]
            assert int(rows[rec["localizer"]][f"small-llama:{rec['language']}:n"]) == rec["queries"]

    inject = _summary(runs_dir / "b-small")["tasks"]["inject"]
    for part, key, n_key in (
        ("new", "new_accuracy", "new_queries"),
        ("old", "old_accuracy", "old_queries"),
        ("average", "average", "facts"),
    ):
        table = tables[f"inject-{part}"]
        assert [r.label for r in table.rows] == ["Direct_FT", "Random", "MATRICE"]
        assert table.headers()[0] == "Method"
        rows = {r["localizer"]: r for r in _csv(table)}
        for rec in inject:
            assert float(rows[rec["localizer"]][f"small-llama:{rec['language']}"]) == rec[key]
            assert int(rows[rec["localizer"]][f"small-llama:{rec['language']}:n"]) == rec[n_key]


def test_tables_come_from_the_tasks_declared_output(tiny_run: Path) -> None:
    """The dp tables are what SuppressEnhance.output declares (ids, titles, formats, n)."""
    from harness.tasks.suppress_enhance import SuppressEnhance

    tables = _tables(tiny_run)
    rows = _summary(tiny_run)["tasks"]["suppress-enhance"]
    for m in SuppressEnhance.output.metrics:
        if f"dp-{m.slug}" not in tables:  # a field this (older) summary lacks: no table
            assert not any(m.field in r for r in rows)
            continue
        table = tables[f"dp-{m.slug}"]
        assert table.title == m.title and table.has_n
        assert all(c.fmt == m.fmt for row in table.rows for c in row.cells)


def test_clashing_sources_keep_the_first_and_warn(tmp_path: Path) -> None:
    a = make_run(tmp_path / "runs" / "a", "tiny-gpt", seed=1)
    b = make_run(tmp_path / "runs" / "b", "tiny-gpt", seed=5)
    sources, _ = load_sources([tmp_path / "runs"])
    rows, models, warnings = combine(sources)
    assert models == ["tiny-gpt"]
    assert any("matrice on tiny-gpt is in both run a and run b" in w for w in warnings)
    first = {
        (r["localizer"], r["language"]): r["dp_enhance"] for r in _summary(a)["tasks"]["suppress-enhance"]
    }
    shown = {(r["localizer"], r["language"]): r["dp_enhance"] for r in rows["suppress-enhance"]}
    assert shown.keys() == first.keys()
    assert all(shown[k] == first[k] or math.isnan(first[k]) for k in first)
    assert b.exists()


def test_written_files_parse(built) -> None:
    _, paths = built
    names = {p.name for p in paths.tables}
    for stem in (
        "dp-enhance",
        "dp-suppress",
        "ablation",
        "layer-distribution",
        "edit-erasure-reliability",
        "inject-new",
        "enhance-low-resource-accuracy",
    ):
        assert {f"{stem}.md", f"{stem}.csv"} <= names
    for p in paths.tables:
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert rows[0][0] == "localizer" and len(rows) > 1
            assert {len(r) for r in rows} == {len(rows[0])}
        else:
            lines = [line for line in text.splitlines() if line.startswith("|")]
            assert len({line.count(" | ") for line in lines if "---" not in line}) == 1


def test_tables_follow_the_runs_task_order(tiny_run: Path) -> None:
    """summary.json sorts its keys; the tables come in the order the run's config lists the tasks."""
    ids = [t.id for t in build_tables(*combine(load_sources([tiny_run])[0])[:2])]
    assert ids == ["layer-distribution", "dp-enhance", "dp-suppress", "ablation", "localizer-stats"]
