"""Console layouts of the measurement tasks (their ``Output.console``): what a terminal
needs beside the leaderboard's tables: per localizer and language the value with its 95 %
interval, its own Random and the paired p-value, the counts of facts and queries, and the
facts with no neurons; the budget curves with their tests; Table II with the reason for each
—; the full cross-language matrix.

Columns are as wide as their longest entry (no header is cut). A missing value (no neurons,
no query, a ratio that is not defined) is shown as ``—``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DASH = "—"
ALPHA = 0.05


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        return None
    return float(v)


def pct(v: Any) -> str:
    x = _num(v)
    return DASH if x is None else f"{100 * x:+.1f}%"


def pct_ci(row: Mapping[str, Any], key: str) -> str:
    """``-12.3% [-20.1, -5.0]``: the value and its 95 % interval in percent."""
    value, lo, hi = _num(row.get(key)), _num(row.get(f"{key}_ci_low")), _num(row.get(f"{key}_ci_high"))
    if value is None:
        return DASH
    if lo is None or hi is None:
        return f"{100 * value:+.1f}% [n/a]"
    return f"{100 * value:+.1f}% [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def num_ci(row: Mapping[str, Any], key: str) -> str:
    value, lo, hi = _num(row.get(key)), _num(row.get(f"{key}_ci_low")), _num(row.get(f"{key}_ci_high"))
    if value is None:
        return DASH
    return f"{value:+.2f}" + ("" if lo is None or hi is None else f" [{lo:+.2f}, {hi:+.2f}]")


def p_value(row: Mapping[str, Any], key: str, better: Callable[[float, float], bool]) -> str:
    """``p=0.012*``: the paired p-value against the localizer's own Random, starred when
    significant at 5 % in the direction that beats Random."""
    p, own, rnd = _num(row.get(f"p_{key}")), _num(row.get(key)), _num(row.get(f"random_{key}"))
    if p is None:
        return DASH
    star = "*" if p < ALPHA and own is not None and rnd is not None and better(own, rnd) else ""
    return f"p<0.001{star}" if p < 0.001 else f"p={p:.3f}{star}"


def grid(headers: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> str:
    """Aligned columns; the first ``right`` columns are left-aligned labels, the rest right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < right else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _order(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    from harness.leaderboard.tables import language_order, localizer_order

    locs = localizer_order([r["localizer"] for r in rows])
    langs = language_order([r["language"] for r in rows])
    return sorted(rows, key=lambda r: (locs.index(r["localizer"]), langs.index(r["language"])))


def suppress_enhance(rows: Sequence[Mapping[str, Any]]) -> str:
    ordered = _order(rows)
    lower, higher = (lambda a, b: a < b), (lambda a, b: a > b)

    def counts(r: Mapping[str, Any]) -> list[str]:
        neurons = _num(r.get("neurons"))
        return [
            f"{r.get('facts', 0)}/{r.get('queries', 0)}",
            DASH if neurons is None else f"{neurons:.1f}",
            str(r.get("no_neurons", 0)),
        ]

    sup = grid(
        [
            "Localizer",
            "Lang",
            "ΔP suppress [95% CI]",
            "own Random",
            "vs Random",
            "ΔP other facts [95% CI]",
            "facts/queries",
            "neurons/fact",
            "no neurons",
        ],
        [
            [
                r["localizer"],
                r["language"],
                pct_ci(r, "dp_suppress"),
                pct(r.get("random_dp_suppress")),
                p_value(r, "dp_suppress", lower),
                pct_ci(r, "dp_suppress_other"),
                *counts(r),
            ]
            for r in ordered
        ],
        right=2,
    )
    enh = grid(
        [
            "Localizer",
            "Lang",
            "ΔP enhance [95% CI]",
            "own Random",
            "vs Random",
            "Δlog-odds [95% CI]",
            "facts/queries",
            "neurons/fact",
            "no neurons",
        ],
        [
            [
                r["localizer"],
                r["language"],
                pct_ci(r, "dp_enhance"),
                pct(r.get("random_dp_enhance")),
                p_value(r, "dp_enhance", higher),
                num_ci(r, "dlo_enhance"),
                *counts(r),
            ]
            for r in ordered
        ],
        right=2,
    )
    return (
        f"Suppress (LAKNs set to 0):\n{sup}\n\nEnhance (LAKNs doubled):\n{enh}\n"
        "ΔP = (P_after − P_before)/P_before (Eq. 14) over the queries answered correctly; 95% CI: "
        "bootstrap over facts. own Random: as many random neurons as the localizer chose, same "
        "queries; vs Random: paired sign-flip test over facts (* beats it at 5%). other facts: "
        "the fact's neurons on unrelated known facts' queries (specificity). no neurons: facts "
        "whose set was empty, left out of ΔP (not counted as 0)."
    )


def budgets(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.leaderboard.tables import localizer_order

    ks = sorted({r["k"] for r in rows if r["k"] != "area"})
    by = {(r["localizer"], r["k"]): r for r in rows}
    out = []
    for metric, title, better in (
        ("dp_suppress", "suppress", lambda a, b: a < b),
        ("dp_enhance", "enhance", lambda a, b: a > b),
    ):
        headers = ["Localizer", *(f"k={k}" for k in ks), "area"]
        body = []
        for loc in localizer_order([r["localizer"] for r in rows]):
            cells = []
            for k in ks:
                r = by.get((loc, k), {})
                p = p_value(r, metric, better)
                cells.append(pct(r.get(metric)) + ("" if p == DASH else f" ({p})"))
            cells.append(pct(by.get((loc, "area"), {}).get(metric)))
            body.append([loc, *cells])
        out.append(
            f"ΔP {title} at a fixed budget of k neurons (top-k by the localizer's own scores):\n"
            + grid(headers, body)
        )
    return "\n\n".join(out) + (
        "\narea: mean ΔP over log2 k; p: paired test against k random neurons "
        "(* beats them at 5%); — : fewer than k neurons ranked."
    )


def ablation(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.leaderboard.tables import localizer_label, localizer_order

    by = {r["localizer"]: r for r in rows}
    body, notes = [], []
    for loc in localizer_order(list(by)):
        r = by[loc]
        body.append(
            [
                localizer_label(loc),
                *(
                    f"{_num(r.get(k)):.3f}" if _num(r.get(k)) is not None else DASH
                    for k in ("enhance", "suppress", "average")
                ),
                f"{r.get('languages_enhance', 0)}/{r.get('languages_suppress', 0)}",
            ]
        )
        notes += [
            f"{localizer_label(loc)} {k}: — because {r[f'why_{k}']}"
            for k in ("enhance", "suppress")
            if f"why_{k}" in r
        ]
    text = grid(["Method", "Enhance", "Suppress", "Average", "languages (enh/sup)"], body)
    return (
        text
        + "\n"
        + "\n".join(
            notes
            + [
                "Ratios to MATRICE per language, averaged over the languages where MATRICE's ΔP is "
                "significantly non-zero in the expected direction (95% CI above 0 for enhance, below 0 "
                "for suppress); Average = mean of Enhance and Suppress."
            ]
        )
    )


def cross_language(rows: Sequence[Mapping[str, Any]]) -> str:
    from harness.leaderboard.tables import language_order, localizer_order

    out = []
    for loc in localizer_order([r["localizer"] for r in rows]):
        mine = [r for r in rows if r["localizer"] == loc and r["source"] != "all"]
        sources = language_order([r["source"] for r in mine])
        targets = language_order([r["language"] for r in mine])
        by = {(r["source"], r["language"]): r for r in mine}
        body = [[s, *(pct(by.get((s, t), {}).get("dp_suppress")) for t in targets)] for s in sources]
        pooled = {r["language"]: r for r in rows if r["localizer"] == loc and r["source"] == "all"}
        tail = ", ".join(f"{k}: {pct_ci(pooled[k], 'dp_suppress')}" for k in ("same", "other") if k in pooled)
        size = _num(pooled.get("same", {}).get("neurons"))
        if tail and size is not None:  # a bigger set moves P more: read the contrast with its size
            tail += f" ({size:.1f} neurons per one-language set)"
        text = (
            f"{loc}: ΔP suppress, neurons from the source language (rows) in each target (columns)\n"
            + grid(["source", *targets], body)
        )
        out.append(text + (f"\n{loc} same vs other language: {tail}" if tail else ""))
    return "\n\n".join(out)
