"""Source readers and source resolution."""

import shutil
import urllib.request

import pytest

from builders import sources as src
from builders.errors import SourceError


def test_read_facts_of_real_source(sources_dir):
    facts = src.read_facts(sources_dir, "fi", "P36")
    assert len(facts) == 485  # ANALYSIS.md: P36 has 485 Finnish facts
    f = facts[0]
    assert f.relation == "P36" and f.language == "fi" and f.subject and f.object
    assert f.subject_uri.startswith("Q") and f.object_uri.startswith("Q")


def test_templates_pararel_mpararel(sources_dir):
    assert src.read_mlama_templates(sources_dir, "en")["P36"] == "The capital of [X] is [Y] ."
    assert "[X] was born in [Y]." in src.read_pararel(sources_dir, "P19")
    assert src.read_pararel(sources_dir, "P31") == []  # ParaRel has no P31
    assert src.read_mpararel(sources_dir, "zh", "P19")  # zh is read from zh-hans
    cands = src.read_candidates(sources_dir, "en")
    assert "objects" in cands["P36"] and cands["P36"]["objects"]


def _copy_lang(sources_dir, tmp_path, lang="en", rel="P36"):
    dst = tmp_path / "mlama1.1" / lang
    dst.mkdir(parents=True)
    shutil.copy(sources_dir / "mlama1.1" / lang / f"{rel}.jsonl", dst / f"{rel}.jsonl")
    return dst / f"{rel}.jsonl"


def test_malformed_line_names_file_and_line(sources_dir, tmp_path):
    path = _copy_lang(sources_dir, tmp_path)
    lines = path.read_text().splitlines()
    lines[4] = '{"uuid": "broken'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"P36\.jsonl:5: malformed JSON"):
        src.read_facts(tmp_path, "en", "P36")


def test_missing_field_names_line(sources_dir, tmp_path):
    path = _copy_lang(sources_dir, tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = '{"uuid": "u", "sub_label": "", "sub_uri": "Q1", "obj_label": "x", "obj_uri": "Q2"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"P36\.jsonl:3: missing or empty field\(s\) sub_label"):
        src.read_facts(tmp_path, "en", "P36")


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="missing source file"):
        src.read_facts(tmp_path, "en", "P36")


def test_resolution_order(sources_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(src.SOURCES_ENV, raising=False)
    assert src.resolve_sources(sources_dir) == sources_dir
    monkeypatch.setenv(src.SOURCES_ENV, str(sources_dir))
    assert src.resolve_sources() == sources_dir
    with pytest.raises(SourceError, match="--sources points to .* no mlama1.1"):
        src.resolve_sources(tmp_path)


def test_offline_download_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv(src.SOURCES_ENV, raising=False)
    monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path / "cache"))

    def offline(*a, **k):
        raise OSError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(SourceError, match="pass --sources DIR"):
        src.resolve_sources()
    assert not (tmp_path / "cache" / "sources").exists()  # nothing half-written
