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
from builders.card import check_card
from builders.errors import BuildError
from builders.quality import measure
from rml_lama import LANGUAGES, RELATIONS
from rml_lama.home import HUB_REPO_ID, check_writable_home
from rml_lama.schema import COLUMNS, FEATURES, ORIGINS

BUILDER_VERSION = "1"
OUTPUTS = ("data", "README.md", "manifest.json", "validation_report.jsonl")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


# Query length in tokens of a named tokenizer: ByT5's (google/byt5-*), one token per UTF-8
# byte. It needs no vocabulary download, so every build can count it; a test checks that
# the count equals transformers' ByT5Tokenizer. It shows how the scripts differ in cost
# (a CJK character is 3 bytes) more than how a subword model would split the text.
TOKENIZER = "ByT5 (google/byt5-small; one token per UTF-8 byte)"


def byt5_tokens(text: str) -> int:
    return len(text.encode("utf-8"))


def _median(values: list[int]) -> float:
    v = sorted(values)
    if not v:
        return 0.0
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def language_stats(rows: list[dict]) -> dict:
    queries = [q for r in rows for q in r["queries"]]
    origins = Counter(o for r in rows for o in r["template_origins"])
    chars = [len(q) for q in queries]
    tokens = [byt5_tokens(q) for q in queries]
    return {
        "facts": len(rows),
        "queries": len(queries),
        "relations": len({r["relation"] for r in rows}),
        "queries_per_fact": round(len(queries) / max(len(rows), 1), 2),
        "avg_query_chars": round(sum(chars) / max(len(queries), 1), 1),
        "median_query_chars": _median(chars),
        "avg_query_tokens": round(sum(tokens) / max(len(queries), 1), 1),
        "median_query_tokens": _median(tokens),
        "facts_with_several_objects": sum(len(r.get("objects", [])) > 1 for r in rows),
        "origins": {o: origins.get(o, 0) for o in ORIGINS},
    }


def relation_stats(rows: dict[str, list[dict]]) -> dict[str, dict]:
    """Per relation: facts, queries per language, and how many facts have several valid
    objects (counted in the first language; facts are aligned across languages)."""
    out: dict[str, dict] = {}
    first = next(iter(rows.values()), [])
    for r in first:
        s = out.setdefault(
            r["relation"], {"facts": 0, "several": 0, "max_objects": 0, "queries": {lang: 0 for lang in rows}}
        )
        s["facts"] += 1
        s["several"] += len(r.get("objects", [])) > 1
        s["max_objects"] = max(s["max_objects"], len(r.get("objects", [])))
    for lang, lang_rows in rows.items():
        for r in lang_rows:
            out[r["relation"]]["queries"][lang] += len(r["queries"])
    return out


def example_row(rows: dict[str, list[dict]]) -> tuple[dict, dict[str, list[str]]]:
    """One fact to show: its row in English (else the first language) and its queries in
    every language. Preferred: a fact with a few valid objects whose zh label was converted
    to Simplified, so the example shows both; else the first fact."""
    if not rows or not next(iter(rows.values())):
        return {}, {}
    lang = "en" if "en" in rows else next(iter(rows))
    by_uuid = {lang_: {r["uuid"]: r for r in lang_rows} for lang_, lang_rows in rows.items()}

    def score(r: dict) -> tuple[bool, bool]:
        zh = by_uuid.get("zh", {}).get(r["uuid"])
        converted = zh is not None and zh["subject"] != zh["subject_mlama"]
        return (1 < len(r.get("objects", [])) <= 4, converted)

    row = max(rows[lang], key=score)  # max keeps the first of the best
    return row, {lang_: by_uuid[lang_][row["uuid"]]["queries"] for lang_ in rows}


def render_card(
    stats: dict,
    config: BuildConfig,
    rejected: Counter,
    rows: dict[str, list[dict]] | None = None,
    quality: dict | None = None,
) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    total_facts = next(iter(stats.values()))["facts"] if stats else 0
    size = (
        "n<1K"
        if total_facts * len(stats) < 1_000
        else "1K<n<10K"
        if total_facts * len(stats) < 10_000
        else "10K<n<100K"
    )
    rows = rows or {}
    example, example_queries = example_row(rows)
    return env.get_template("card.md.j2").render(
        example=json.dumps({k: example[k] for k in COLUMNS if k in example}, ensure_ascii=False, indent=2)
        if example
        else "",
        example_queries=example_queries,
        example_language=example.get("language", ""),
        per_relation=relation_stats(rows),
        quality=quality or measure(rows),
        tokenizer=TOKENIZER,
        per_subject=config.max_facts_per_subject,
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
        quality = measure(built.rows)
        card = render_card(stats, config, rejected, built.rows, quality)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        problems = check_card(card, tmp, tuple(built.rows))
        if problems:
            raise BuildError("the dataset card breaks the Hub's conventions:\n  " + "\n  ".join(problems))
        files["README.md"] = src.file_sha256(tmp / "README.md")

        content = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()
        manifest = {
            "name": "rml_lama",
            "builder_version": BUILDER_VERSION,
            "content_hash": content,
            "languages": list(built.rows),
            "relations": list(config.relations),
            "max_facts_per_relation": config.max_facts_per_relation,
            "max_facts_per_subject": config.max_facts_per_subject,
            "statistics": stats,
            "quality": {k: v for k, v in quality.items() if k != "examples"},
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
    paths = [
        root / "mlama1.1" / lang / f"{rel}.jsonl" for lang in config.languages for rel in config.relations
    ]
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
