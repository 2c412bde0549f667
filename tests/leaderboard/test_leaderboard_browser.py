"""The page in headless Chromium: its script sorts the tables, and it renders.

The page sorts on load when asked by ``?sort=TABLE:COLUMN:DIR`` (or ``#sort=...``) by
clicking the header, so ``--dump-dom`` shows what a click does. Chromium is required: the
test fails when it is missing unless ``RML_LAMA_SKIP_BROWSER=1`` (Debian/Ubuntu:
``apt-get install -y chromium``; another binary: ``RML_LAMA_CHROMIUM=/path``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from leaderboard_fakes import LANGS
from leaderboard_page import parse

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if os.environ.get("RML_LAMA_SKIP_BROWSER") == "1":
        pytest.skip("RML_LAMA_SKIP_BROWSER=1: the page is not checked in a browser")
    exe = os.environ.get("RML_LAMA_CHROMIUM") or next(
        (p for name in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(name))), None
    )
    if exe is None:
        pytest.fail(
            "headless Chromium is needed to test the leaderboard page: install it "
            "(apt-get install -y chromium), point RML_LAMA_CHROMIUM at it, or set "
            "RML_LAMA_SKIP_BROWSER=1 to skip this test"
        )
    return exe


def _run(exe: str, tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not errors, errors  # the page's script ran without exceptions
    return proc


def _dom(exe: str, tmp: Path, url: str):
    page = parse(_run(exe, tmp, url, "--dump-dom").stdout)
    assert not page.errors, page.errors
    return page


def _avg(dp: list[dict], loc: str, key: str) -> float:
    vals = [r[key] for r in dp if r["localizer"] == loc and not math.isnan(r[key])]
    return sum(vals) / len(vals)


def test_sorting_in_chromium(built, chromium: str, tmp_path: Path) -> None:
    runs, paths = built
    dp = json.loads((runs / "a-tiny" / "summary.json").read_text())["tasks"]["suppress-enhance"]
    locs = sorted({r["localizer"] for r in dp})
    avg_col, fi_col = 1 + len(LANGS), 1 + LANGS.index("fi")
    url = (
        paths.index.as_uri() + f"?sort=dp-enhance:{avg_col}:desc"
        f"&sort=dp-suppress:{fi_col}:asc,layer-distribution:0:desc"
    )
    page = _dom(chromium, tmp_path, url)

    # numeric, descending: the tiny-gpt average of ΔP enhance
    got = [k for k, _ in page.tables["dp-enhance"]]
    assert got == sorted(locs, key=lambda loc: -_avg(dp, loc, "dp_enhance"))
    assert page.sorted["dp-enhance"] == (avg_col, "descending")
    # numeric, ascending (two clicks: numbers sort descending first)
    fi = {r["localizer"]: r["dp_suppress"] for r in dp if r["language"] == "fi"}
    assert [k for k, _ in page.tables["dp-suppress"]] == sorted(locs, key=lambda loc: fi[loc])
    assert page.sorted["dp-suppress"] == (fi_col, "ascending")
    # text, descending, by display name
    labels = [cells[0] for _, cells in page.tables["layer-distribution"]]
    assert labels == sorted(labels, key=str.lower, reverse=True)
    # a table not asked for keeps the paper's order
    assert [k for k, _ in page.tables["ablation"]] == ["matrice", "matrice-no-uaq", "matrice-no-ual"]
    assert "ablation" not in page.sorted


def test_missing_values_sort_last_both_ways(built, chromium: str, tmp_path: Path) -> None:
    _, paths = built
    ko_col = 1 + LANGS.index("ko")  # Random has no ΔP in ko on tiny-gpt (NaN in the summary)
    page = _dom(
        chromium, tmp_path, paths.index.as_uri() + f"#sort=dp-enhance:{ko_col}:asc,dp-suppress:{ko_col}:desc"
    )
    for table, direction in (("dp-enhance", "asc"), ("dp-suppress", "desc")):
        rows = page.tables[table]
        assert rows[-1][0] == "random" and rows[-1][1][ko_col] == ""
        vals = [float(cells[ko_col]) for _, cells in rows[:-1]]
        assert vals == sorted(vals, reverse=direction == "desc")


def test_page_renders(built, chromium: str, tmp_path: Path) -> None:
    _, paths = built
    shot = tmp_path / "shot.png"
    _run(
        chromium,
        tmp_path,
        paths.index.as_uri(),
        f"--screenshot={shot}",
        "--window-size=1280,1600",
        "--hide-scrollbars",
    )
    from PIL import Image

    assert shot.stat().st_size > 20_000
    with Image.open(shot) as img:
        assert img.size == (1280, 1600)
        lo, hi = img.convert("L").getextrema()
        assert hi - lo > 100  # text and tables drawn, not a blank page
