"""Subset builds from ../shared/data: rows, bad input, the load_dataset round trip,
determinism and atomic writes."""

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

import rml_lama
from builders import write as write_mod
from builders.bank import load_bank
from builders.build import PERSON_SUBJECTS, BuildConfig, build, build_rows
from builders.errors import BuildError
from builders.queries import fill

LANGS = ["en", "fr", "fi", "hu", "zh", "ja", "ko"]
RELS = ["P36", "P37", "P19"]


@pytest.fixture(scope="module")
def built(sources_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "rml_lama"
    cfg = BuildConfig(
        sources=sources_dir,
        out=out,
        languages=LANGS,
        relations=RELS,
        max_facts_per_relation=25,
        progress=False,
    )
    build(cfg)
    return out


def _rows(out: Path, lang: str) -> list[dict]:
    return pq.read_table(out / "data" / lang / "test.parquet").to_pylist()


def test_rows_are_aligned_across_languages(built):
    by_lang = {lang: _rows(built, lang) for lang in LANGS}
    uuids = [r["uuid"] for r in by_lang["en"]]
    assert 0 < len(uuids) <= 75 and len(set(uuids)) == len(uuids)
    for lang, rows in by_lang.items():
        assert [r["uuid"] for r in rows] == uuids
        assert {r["relation"] for r in rows} <= set(RELS)
        for r in rows:
            assert r["language"] == lang
            assert len(r["queries"]) == len(r["templates"]) == len(r["template_origins"]) >= 1
            for t, q in zip(r["templates"], r["queries"], strict=True):
                assert q == fill(t, r["subject"], lang, r["relation"] in PERSON_SUBJECTS)
                assert r["object"].casefold() not in q.casefold() or lang in ("zh", "ja")


def test_bank_gives_at_least_three_queries_mostly(built):
    rows = [r for lang in LANGS for r in _rows(built, lang)]
    assert sum(len(r["queries"]) >= 3 for r in rows) / len(rows) > 0.9


def test_load_dataset_round_trip(built):
    ds = datasets.load_dataset(str(built), "fi", split="test")
    assert ds.to_list() == _rows(built, "fi")
    assert ds.features["queries"].feature.dtype == "string"
    mine = rml_lama.load("fi", built)  # the harness's reader: same rows, same features
    assert mine.to_list() == ds.to_list() and mine.features == ds.features


def test_card_declares_configs_and_true_statistics(built):
    card = (built / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == LANGS
    assert header["license"] == "cc-by-nc-4.0"
    rows = _rows(built, "hu")
    n_queries = sum(len(r["queries"]) for r in rows)
    assert f"| hu | {len(rows)} | {n_queries} |" in card
    assert "[More Information Needed]" not in card
    assert "7,849" in card and "9,849" in card


def test_report_lists_every_rejection_with_reason(built):
    report = [json.loads(line) for line in (built / "validation_report.jsonl").open()]
    manifest = json.loads((built / "manifest.json").read_text())
    assert sum(manifest["rejections"].values()) == len(report)
    assert all(r["rule"] and r["reason"] for r in report)


def test_two_builds_are_identical(built, sources_dir, tmp_path):
    out = tmp_path / "again"
    build(
        BuildConfig(
            sources=sources_dir,
            out=out,
            languages=LANGS,
            relations=RELS,
            max_facts_per_relation=25,
            progress=False,
        )
    )
    m1 = json.loads((built / "manifest.json").read_text())
    m2 = json.loads((out / "manifest.json").read_text())
    assert m1["content_hash"] == m2["content_hash"]
    for lang in LANGS:
        a = (built / "data" / lang / "test.parquet").read_bytes()
        assert a == (out / "data" / lang / "test.parquet").read_bytes()


def test_unknown_language_and_relation_list_choices(sources_dir):
    with pytest.raises(ValueError, match="unknown language.*de.*valid choices: zh, en"):
        BuildConfig(sources=sources_dir, languages=["en", "de"])
    with pytest.raises(ValueError, match="unknown relation.*P999.*valid choices: P17"):
        BuildConfig(sources=sources_dir, relations=["P999"])


def _write_bank(folder: Path, entries: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for lang, rels in entries.items():
        (folder / f"{lang}.yaml").write_text(yaml.safe_dump(rels, allow_unicode=True))
    return folder


GOOD_EN = {"P36": ["The capital of [X] is [Y].", "[X]'s capital is [Y].", "The capital city of [X] is [Y]."]}


def test_bank_entry_failing_validation_is_named(sources_dir, tmp_path):
    bank = _write_bank(tmp_path / "bank", {"en": {"P36": GOOD_EN["P36"] + ["[Y] is [X]'s capital."]}})
    cfg = BuildConfig(
        sources=sources_dir,
        out=tmp_path / "out",
        languages=["en"],
        relations=["P36"],
        bank_dir=bank,
        progress=False,
    )
    with pytest.raises(BuildError, match=r"en\.yaml: P36\[3\].*fails rule y_final"):
        build(cfg)
    assert not (tmp_path / "out" / "data").exists()


def test_false_provenance_is_named(sources_dir, tmp_path):
    entries = {"en": {"P36": GOOD_EN["P36"] + [{"template": "[X] has capital [Y].", "origin": "mlama"}]}}
    cfg = BuildConfig(
        sources=sources_dir,
        languages=["en"],
        relations=["P36"],
        bank_dir=_write_bank(tmp_path / "bank", entries),
        progress=False,
    )
    with pytest.raises(BuildError, match=r"P36\[3\]: claims origin 'mlama'"):
        build_rows(cfg)


def test_malformed_bank_names_file(tmp_path):
    (tmp_path / "en.yaml").write_text("P36:\n  - [unclosed\n")
    with pytest.raises(BuildError, match=r"en\.yaml:\d+: malformed YAML"):
        load_bank("en", tmp_path)
    (tmp_path / "en.yaml").write_text("P36:\n  - {template: '[X] is [Y].', origin: wiki}\n")
    with pytest.raises(BuildError, match="origin 'wiki'; valid: mlama, pararel, mpararel, curated"):
        load_bank("en", tmp_path)


def test_too_few_templates_is_an_error(sources_dir, tmp_path):
    bank = _write_bank(tmp_path / "bank", {"en": {"P36": GOOD_EN["P36"][:2]}})
    cfg = BuildConfig(sources=sources_dir, languages=["en"], relations=["P36"], bank_dir=bank, progress=False)
    with pytest.raises(BuildError, match="at least 3 valid templates; too few for P36/en: 2"):
        build_rows(cfg)


def test_failed_write_leaves_previous_build_intact(sources_dir, tmp_path, monkeypatch):
    bank = _write_bank(tmp_path / "bank", {"en": GOOD_EN})
    cfg = BuildConfig(
        sources=sources_dir,
        out=tmp_path / "out",
        languages=["en"],
        relations=["P36"],
        max_facts_per_relation=5,
        bank_dir=bank,
        progress=False,
    )
    build(cfg)
    before = (tmp_path / "out" / "manifest.json").read_text()
    n_rows = len(pq.read_table(tmp_path / "out" / "data" / "en" / "test.parquet"))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(write_mod, "render_card", boom)
    cfg.max_facts_per_relation = 7
    with pytest.raises(KeyboardInterrupt):
        build(cfg)
    assert (tmp_path / "out" / "manifest.json").read_text() == before
    assert len(pq.read_table(tmp_path / "out" / "data" / "en" / "test.parquet")) == n_rows
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


# -- v2: every valid object, zh in Simplified, labels kept, the measures ---------------------


def _mlama_objects(sources_dir: Path, lang: str, rel: str) -> dict[str, list[str]]:
    """subject uri -> object labels, read straight from the source file."""
    out: dict[str, list[str]] = {}
    for line in (sources_dir / "mlama1.1" / lang / f"{rel}.jsonl").open(encoding="utf-8"):
        d = json.loads(line)
        out.setdefault(d["sub_uri"], []).append(d["obj_label"].strip())
    return out


@pytest.fixture(scope="module")
def many(sources_dir):
    cfg = BuildConfig(
        sources=sources_dir,
        languages=["en", "zh", "ja"],
        relations=["P47", "P530"],
        max_facts_per_relation=30,
        progress=False,
    )
    return build_rows(cfg).rows


def test_objects_hold_every_valid_answer_of_the_sources(many, sources_dir):
    from builders.labels import normalize_label

    several = 0
    for lang, rows in many.items():
        for r in rows:
            source = _mlama_objects(sources_dir, lang, r["relation"])[r["subject_uri"]]
            expected = list(dict.fromkeys(normalize_label(o, lang) for o in source))
            assert r["objects"][0] == r["object"]
            assert sorted(r["objects"]) == sorted(expected)
            several += len(r["objects"]) > 1
    assert several > 0


def test_zh_labels_are_simplified_and_the_mlama_label_is_kept(many):
    import opencc

    t2s = opencc.OpenCC("t2s")
    for lang, rows in many.items():
        for r in rows:
            if lang == "zh":
                assert r["subject"] == t2s.convert(r["subject_mlama"])
                assert r["object"] == t2s.convert(r["object_mlama"])
            else:
                assert (r["subject"], r["object"]) == (r["subject_mlama"], r["object_mlama"])


def test_no_query_shows_any_valid_object_or_a_label_of_another_language(many):
    from builders.validate import leaks

    labels: dict[str, set[str]] = {}
    for rows in many.values():
        for r in rows:
            labels.setdefault(r["uuid"], set()).add(r["object"])
    for lang, rows in many.items():
        for r in rows:
            for q in r["queries"]:
                assert not any(leaks(o, q, lang) for o in labels[r["uuid"]] | set(r["objects"]))


def test_facts_per_subject_can_be_capped(sources_dir):
    cfg = BuildConfig(
        sources=sources_dir, languages=["en"], relations=["P530"], max_facts_per_subject=1, progress=False
    )
    rows = build_rows(cfg).rows["en"]
    subjects = [r["subject_uri"] for r in rows]
    assert len(subjects) == len(set(subjects)) > 50
    assert any(len(r["objects"]) > 1 for r in rows)  # the cap keeps every valid answer
    with pytest.raises(BuildError, match="--max-facts-per-subject must be at least 1"):
        BuildConfig(sources=sources_dir, max_facts_per_subject=0)


def test_card_reports_measures_and_passes_the_hub_conventions(built):
    from builders.card import check_card

    card = (built / "README.md").read_text()
    manifest = json.loads((built / "manifest.json").read_text())
    q = manifest["quality"]
    assert q["fi_colon_endings"] == q["fr_elision_errors"] == q["zh_traditional_labels"] == 0
    assert q["leaking_queries"] == 0 and q["rows_with_objects"] == q["rows"] > 0
    assert q["wrong_label_facts"] == 0
    assert f"| {q['fi_colon_endings']} of {q['fi_queries']} |" in card
    assert "(wrong source label, detector below re-run on the rows) | 0 |" in card
    assert check_card(card, built, tuple(LANGS)) == []
    for needle in (
        "### An example row",
        "## Scoring",
        "ByT5",
        "elsahar2018trex",
        "elazar2021pararel",
        "fierro2022mpararel",
        "kassner2021mlama",
        "cao2024onemind",
        "## Known issues",
        "bc51dee",
        "| `P36` | capital |",
    ):
        assert needle in card, needle
    header = yaml.safe_load(card.split("---")[1])
    assert header["source_datasets"] == ["extended|cis-lmu/m_lama"]


def test_byt5_token_count_is_the_tokenizer_s():
    from transformers import ByT5Tokenizer

    tok = ByT5Tokenizer()
    for text in ("La capitale d'Italie est", "大英帝国所在的大洲是", "대영 제국의 대륙은", "Ukraina on maa"):
        assert write_mod.byt5_tokens(text) == len(tok(text, add_special_tokens=False)["input_ids"])


def test_template_shared_by_two_relations_is_an_error(sources_dir, tmp_path):
    entries = {
        "en": {
            "P36": GOOD_EN["P36"],
            "P1376": [
                "[X] is the capital of [Y].",
                "The capital of [X] is [Y].",
                "[X] is the capital city of [Y].",
            ],
        }
    }
    cfg = BuildConfig(
        sources=sources_dir,
        languages=["en"],
        relations=["P36", "P1376"],
        bank_dir=_write_bank(tmp_path / "bank", entries),
        progress=False,
    )
    with pytest.raises(BuildError, match=r"'The capital of \[X\] is \[Y\]\.' is used by P36 and P1376"):
        build_rows(cfg)


def test_rebuild_with_new_content_notes_the_datasets_cache(sources_dir, tmp_path):
    from click.testing import CliRunner

    from builders.cli import STALE_NOTE, main

    out = tmp_path / "rml_lama"

    def build_cli(n: int):
        args = [
            "build",
            "--sources",
            str(sources_dir),
            "--languages",
            "en,fi",
            "--relations",
            "P36",
            "--max-facts",
            str(n),
            "--out",
            str(out),
            "--quiet",
        ]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        return res

    assert STALE_NOTE not in build_cli(3).stderr  # a first build replaces nothing
    first = rml_lama.load("fi", out)
    assert STALE_NOTE in build_cli(5).stderr  # other content: load_dataset's cache may be stale
    assert len(rml_lama.load("fi", out)) > len(first)  # rml_lama.load sees the new rows
    assert STALE_NOTE not in build_cli(5).stderr  # same content again: nothing to warn about
