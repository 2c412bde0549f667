"""Figures: valid PNGs of a reasonable size, one panel per model, only for tasks present."""

from __future__ import annotations

from pathlib import Path

from harness.leaderboard import load_sources, png_size
from harness.leaderboard.figures import build_figures, task_figures
from harness.leaderboard.sources import combine


def test_figures_are_valid_pngs(built) -> None:
    _, paths = built
    assert {p.name for p in paths.figures} == {"layer-distribution.png", "delta-p.png", "low-resource.png"}
    for p in paths.figures:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND"
        w, h = png_size(data)
        assert 500 <= w <= 3000 and 300 <= h <= 3000, (p.name, w, h)
        assert 5_000 < len(data) < 2_000_000
        from PIL import Image

        with Image.open(p) as img:
            img.verify()


def test_one_panel_per_model(runs_dir: Path) -> None:
    sources, _ = load_sources([runs_dir])
    rows, models, _ = combine(sources)

    def drawn(task: str):
        ((spec, fig),) = task_figures(task, rows[task], models)  # each built-in task has one
        return fig

    fig = drawn("layer-distribution")
    assert [ax.get_title() for ax in fig.axes] == ["tiny-gpt", "small-llama"]
    assert [len(ax.get_lines()) for ax in fig.axes] == [3, 3]  # one line per localizer
    fig = drawn("suppress-enhance")
    assert [ax.get_title() for ax in fig.axes] == [
        "tiny-gpt: enhance",
        "tiny-gpt: suppress",
        "small-llama: enhance",
        "small-llama: suppress",
    ]
    # 7 languages × 3 localizers (the ablation variants stay in the tables)
    assert len(fig.axes[0].patches) == 21
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["zh", "en", "fr", "fi", "hu", "ja", "ko"]
    fig = drawn("enhance-low-resource")  # only small-llama has it
    assert [ax.get_title() for ax in fig.axes] == ["accuracy on Q_error"]
    assert len(fig.axes[0].patches) == 4 * 3  # the relation "all" rows only


def test_no_rows_no_figure(tmp_path: Path) -> None:
    assert build_figures({}, [], tmp_path / "figures") == []
    assert not (tmp_path / "figures").exists()


def test_bars_show_the_interval_as_error_bars() -> None:
    """Bars draw each row's 95 % interval (×100) where it has one, and none where not."""
    from harness.leaderboard.figures import bars
    from harness.leaderboard.sources import MODEL
    from harness.tasks.output import Figure

    spec = Figure("gt", "t", "bars", x="truth", panels=(("ap", "AP"),), ylabel="%")
    rows = [
        {
            MODEL: "m",
            "localizer": "matrice",
            "truth": "agnostic",
            "ap": 0.8,
            "ap_ci_low": 0.6,
            "ap_ci_high": 0.9,
        },
        {MODEL: "m", "localizer": "random", "truth": "agnostic", "ap": 0.01},
    ]
    fig = bars(spec, rows, ["m"])
    (ax,) = fig.axes
    by_label = {c.get_label(): c for c in ax.containers if hasattr(c, "errorbar")}
    (segments,) = [c.errorbar.lines[2][0].get_segments() for c in by_label.values() if c.errorbar is not None]
    (((_, y0), (_, y1)),) = segments
    assert (round(y0, 6), round(y1, 6)) == (60.0, 90.0)
    assert len([c for c in by_label.values() if c.errorbar is None]) == 1  # Random: no interval
