"""Write a built dataset: parquet per language, the card, the report and the manifest.

Everything is written into a temporary folder beside the destination and moved into place
at the end, so an interrupted build never leaves a half-written dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from builders import sources as src
from builders.build import BuildConfig, Built
from rml_lama import LANGUAGES, RELATIONS
from rml_lama.home import HUB_REPO_ID, check_writable_home
from rml_lama.schema import COLUMNS, FEATURES, ORIGINS

BUILDER_VERSION = "1"
OUTPUTS = ("data", "README.md", "manifest.json", "validation_report.jsonl")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def language_stats(rows: list[dict]) -> dict:
    queries = [q for r in rows for q in r["queries"]]
    origins = Counter(o for r in rows for o in r["template_origins"])
    return {
        "facts": len(rows),
        "queries": len(queries),
        "relations": len({r["relation"] for r in rows}),
        "queries_per_fact": round(len(queries) / max(len(rows), 1), 2),
        "avg_query_chars": round(sum(map(len, queries)) / max(len(queries), 1), 1),
        "origins": {o: origins.get(o, 0) for o in ORIGINS},
    }


def render_card(stats: dict, config: BuildConfig, rejected: Counter) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    total_facts = next(iter(stats.values()))["facts"] if stats else 0
    size = (
        "n<1K" if total_facts * len(stats) < 1_000
        else "1K<n<10K" if total_facts * len(stats) < 10_000
        else "10K<n<100K"
    )
    return env.get_template("card.md.j2").render(
        languages=[LANGUAGES[c] for c in stats],
        relations=[RELATIONS[r] for r in config.relations],
        stats=stats,
        origins=ORIGINS,
        facts=total_facts,
        size_category=size,
        rejected=sorted(rejected.items()),
        subset=config.max_facts_per_relation,
        repo_id=HUB_REPO_ID,
    )


def write_dataset(built: Built, config: BuildConfig) -> Path:
    out = check_writable_home(Path(config.out))  # never into site-packages
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        schema = FEATURES.arrow_schema
        files = {}
        for lang, rows in built.rows.items():
            path = tmp / "data" / lang / "test.parquet"
            path.parent.mkdir(parents=True)
            table = pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows], schema=schema)
            pq.write_table(table, path, compression="zstd")
            files[f"data/{lang}/test.parquet"] = src.file_sha256(path)

        report = sorted(
            (r.to_dict() for r in built.rejections),
            key=lambda d: (d["language"], d["relation"], d["uuid"], d["rule"], d["item"]),
        )
        with open(tmp / "validation_report.jsonl", "w", encoding="utf-8") as f:
            for r in report:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")

        stats = {lang: language_stats(rows) for lang, rows in built.rows.items()}
        rejected = Counter(r.rule for r in built.rejections)
        (tmp / "README.md").write_text(render_card(stats, config, rejected), encoding="utf-8")
        files["README.md"] = src.file_sha256(tmp / "README.md")

        content = hashlib.sha256(
            "".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()
        ).hexdigest()
        manifest = {
            "name": "rml_lama",
            "builder_version": BUILDER_VERSION,
            "content_hash": content,
            "languages": list(built.rows),
            "relations": list(config.relations),
            "max_facts_per_relation": config.max_facts_per_relation,
            "statistics": stats,
            "rejections": dict(sorted(rejected.items())),
            "files": files,
            "sources": source_hashes(config),
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "manifest.json"


def source_hashes(config: BuildConfig) -> dict[str, str]:
    root = config.sources
    paths = [root / "mlama1.1" / lang / f"{rel}.jsonl"
             for lang in config.languages for rel in config.relations]
    paths += [root / "mlama1.1" / lang / "templates.jsonl" for lang in config.languages]
    return {str(p.relative_to(root)): src.file_sha256(p) for p in paths if p.exists()}


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the new outputs into ``out``; the manifest goes last, so a present manifest
    always describes complete data. If any rename fails, the ones done are undone in
    reverse order, so ``out`` holds the previous build as it was (then the error is
    raised); the previous build is deleted only once the new one is complete."""
    old = Path(tempfile.mkdtemp(prefix=".old-", dir=out))
    done: list[tuple[Path, Path]] = []  # (from, to) of every rename made

    def move(a: Path, b: Path) -> None:
        os.replace(a, b)
        done.append((a, b))

    names = [n for n in OUTPUTS if n != "manifest.json"]
    try:
        if (out / "manifest.json").exists():
            move(out / "manifest.json", old / "manifest.json")
        for name in names:
            if (out / name).exists():
                move(out / name, old / name)
            move(tmp / name, out / name)
        move(tmp / "manifest.json", out / "manifest.json")
    except BaseException:
        for a, b in reversed(done):
            os.replace(b, a)
        os.rmdir(old)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; build the dataset first (rml-build build)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a manifest ({e}); rebuild the dataset (rml-build build)") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: not a manifest (a JSON object); rebuild the dataset (rml-build build)")
    return manifest
