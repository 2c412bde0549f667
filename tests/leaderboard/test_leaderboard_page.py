"""The static page: well-formed, self-contained, escaped, with every table and figure."""

from __future__ import annotations

from pathlib import Path

from leaderboard_fakes import make_run
from leaderboard_page import parse

from harness.leaderboard import build_leaderboard


def test_page_structure(built) -> None:
    _, paths = built
    html = paths.index.read_text(encoding="utf-8")
    page = parse(html)
    assert page.doctype and not page.errors, page.errors
    assert html.lstrip().startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    table_stems = {p.stem for p in paths.tables}
    assert table_stems <= set(page.tables)  # every written table is on the page
    for stem in table_stems:
        n_rows = len(page.tables[stem])
        assert n_rows >= 1
        assert len({len(cells) for _, cells in page.tables[stem]}) == 1  # rectangular
    # self-contained: inline CSS and JS, local figures and table files only
    assert page.scripts_with_src == 0 and "<style>" in html and "<script>" in html
    board = paths.index.parent
    for tag, ref in page.resources:
        assert not ref.startswith(("http:", "https:", "//")), (tag, ref)
        if not ref.startswith("#"):
            assert (board / ref).is_file(), ref
    assert {ref for tag, ref in page.resources if tag == "img"} == {
        f"figures/{p.name}" for p in paths.figures
    }


def test_page_numbers_are_the_table_numbers(built) -> None:
    runs, paths = built
    import json

    page = parse(paths.index.read_text(encoding="utf-8"))
    rec = next(
        r
        for r in json.loads((runs / "a-tiny" / "summary.json").read_text())["tasks"]["suppress-enhance"]
        if r["localizer"] == "amig" and r["language"] == "fr"
    )
    keys = [k for k, _ in page.tables["dp-enhance"]]
    cells = page.tables["dp-enhance"][keys.index("amig")][1]
    assert float(cells[1 + 2]) == rec["dp_enhance"]  # label, zh, en, fr
    assert cells[0] == "AMIG"


def test_names_are_escaped(tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    make_run(tmp_path / "runs" / "r", model=evil, localizers=("matrice", evil))
    paths = build_leaderboard([tmp_path / "runs"], tmp_path / "board", submissions=False, figures=False)
    html = paths.index.read_text(encoding="utf-8")
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert not parse(html).errors


def test_empty_leaderboard(tmp_path: Path) -> None:
    paths = build_leaderboard([], tmp_path / "board")
    html = paths.index.read_text(encoding="utf-8")
    assert 'id="empty"' in html and paths.tables == () and paths.figures == ()
    assert not parse(html).errors


def test_rebuild_removes_stale_outputs(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "r", apps=True)
    board = tmp_path / "board"
    first = build_leaderboard([run], board, submissions=False, figures=False)
    assert (board / "tables" / "inject-new.csv").exists()
    import json

    summary = json.loads((run / "summary.json").read_text())
    del summary["tasks"]["inject"]
    (run / "summary.json").write_text(json.dumps(summary))
    second = build_leaderboard([run], board, submissions=False, figures=False)
    assert not (board / "tables" / "inject-new.csv").exists()
    assert len(second.tables) == len(first.tables) - 6
    assert not [p for p in board.rglob(".*") if p.is_file()]  # no temporary files left
