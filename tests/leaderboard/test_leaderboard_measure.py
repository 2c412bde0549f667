"""Leaderboard cells with intervals, counts and the mark against Random; budget tables and
the ΔP-vs-k figure."""

from __future__ import annotations

from harness.leaderboard.figures import task_figures
from harness.leaderboard.sources import MODEL
from harness.leaderboard.tables import Cell, beats_random, task_tables, to_csv, to_markdown


def _dp(loc, lang, value, p=None, rnd=None):
    row = {
        MODEL: "tiny-gpt",
        "localizer": loc,
        "language": lang,
        "dp_suppress": value,
        "dp_suppress_ci_low": value - 0.1,
        "dp_suppress_ci_high": value + 0.1,
        "dp_enhance": 0.2,
        "facts": 5,
        "queries": 21,
    }
    if p is not None:
        row.update(p_dp_suppress=p, random_dp_suppress=rnd)
    return row


def test_cell_text_shows_interval_mark_and_facts_over_queries():
    assert Cell(-0.25, 21, "pct_change", -0.4, -0.1, "*", 5).text() == "-25.0%* [-40.0%, -10.0%] (n=5/21)"
    assert Cell(None, 21, "pct_change").text() == "–"
    assert Cell(0.5, 3, "ratio").text() == "0.500 (n=3)"  # no interval, no facts: as before


def test_beats_random_needs_significance_and_the_right_side():
    good = {"dp_suppress": -0.3, "random_dp_suppress": 0.0, "p_dp_suppress": 0.01}
    assert beats_random(good, "dp_suppress", "lower")
    assert not beats_random(good, "dp_suppress", None)  # the metric declares no comparison
    assert not beats_random(
        {"dp_suppress": 0.3, "random_dp_suppress": 0.0, "p_dp_suppress": 0.01}, "dp_suppress", "lower"
    )  # significant but the wrong way
    assert not beats_random(
        {"dp_enhance": 0.3, "random_dp_enhance": 0.0, "p_dp_enhance": 0.2}, "dp_enhance", "higher"
    )


def test_suppress_table_cells_and_pooled_avg():
    rows = [
        _dp("matrice", "en", -0.3, 0.01, -0.01),
        _dp("matrice", "all", -0.2, 0.2, 0.0),
        _dp("random", "en", -0.01),
    ]
    tables = {t.id: t for t in task_tables("suppress-enhance", rows, ["tiny-gpt"])}
    md = to_markdown(tables["dp-suppress"])
    assert "| MATRICE | -30.0%* [-40.0%, -20.0%] (n=5/21) | -20.0% [-30.0%, -10.0%] (n=5/21) |" in md
    assert "| Localizer | en | all |" in md  # all: the task's pooled row, not a mean of cells


def test_budget_table_and_figure():
    rows = []
    for loc, slope in (("matrice", -0.01), ("random", 0.0)):
        for k in (5, 10, 20):
            rows.append(
                {
                    MODEL: "tiny-gpt",
                    "localizer": loc,
                    "language": "all",
                    "k": k,
                    "k_label": f"k={k}",
                    "dp_suppress": slope * k,
                    "dp_enhance": 0.0,
                    "facts": 4,
                    "queries": 30,
                }
            )
        rows.append(
            {
                MODEL: "tiny-gpt",
                "localizer": loc,
                "language": "all",
                "k": "area",
                "k_label": "area",
                "dp_suppress": slope * 10,
                "dp_enhance": 0.0,
            }
        )
    rows.append(
        {
            MODEL: "tiny-gpt",
            "localizer": "amig",
            "language": "all",
            "k": 5,
            "k_label": "k=5",
            "dp_suppress": float("nan"),
            "dp_enhance": float("nan"),
            "no_neurons": 4,
        }
    )
    tables = {t.id: t for t in task_tables("suppress-enhance-k", rows, ["tiny-gpt"])}
    sup = tables["suppress-enhance-k-suppress"]
    assert [c.label for c in sup.columns] == ["k=5", "k=10", "k=20", "area"]
    md = to_markdown(sup)
    assert "| MATRICE | -5.0% (n=4/30) | -10.0% (n=4/30) | -20.0% (n=4/30) | -10.0% |" in md
    assert "| AMIG | – |" in md
    assert "tiny-gpt:k=5" in to_csv(sup)
    ((spec, fig),) = task_figures("suppress-enhance-k", rows, ["tiny-gpt"])
    assert spec.id == "delta-p-vs-k"
    assert [ax.get_title() for ax in fig.axes] == ["LAKNs suppressed", "LAKNs enhanced"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["5", "10", "20"]
