"""Time the full RML-LAMA build (all facts × 7 languages) and report rows per second.

    python benchmarks/bench_build.py [--sources ../shared/data]

A benchmark, not a test: it prints numbers and asserts nothing. Target: under 60 s on
2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from builders.build import BuildConfig, build_rows
from builders.sources import resolve_sources
from builders.write import write_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BuildConfig(sources=resolve_sources(args.sources), out=Path(tmp), progress=False)
        t0 = time.perf_counter()
        built = build_rows(cfg)
        t1 = time.perf_counter()
        manifest = json.loads(write_dataset(built, cfg).read_text())
        t2 = time.perf_counter()
    rows = sum(len(r) for r in built.rows.values())
    queries = sum(s["queries"] for s in manifest["statistics"].values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows (fact × language): {rows}, queries: {queries}")
    print(f"read+validate+fill: {t1 - t0:.1f} s, write: {t2 - t1:.1f} s, total: {t2 - t0:.1f} s")
    print(f"rows per second: {rows / (t2 - t0):,.0f}; queries per second: {queries / (t2 - t0):,.0f}")
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
