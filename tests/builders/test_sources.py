"""Source readers and source resolution."""

import io
import json
import shutil
import stat
import urllib.request
import zipfile

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


# -- downloads: https, pinned sha256s, extraction only inside the target -----------------------


def _zip(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return buf.getvalue()


@pytest.mark.parametrize(
    "member, why",
    [
        ("data/../../evil.txt", "'..'"),
        ("data/x/../../../evil.txt", "'..'"),
        ("/tmp/evil.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
        ("data\\..\\..\\evil.txt", "'..'"),
    ],
)
def test_extract_refuses_members_outside_the_target(tmp_path, member, why):
    archive = zipfile.ZipFile(io.BytesIO(_zip({"data/ok.json": b"{}", member: b"x"})))
    with pytest.raises(SourceError, match=why):
        src.extract(archive, "data/", tmp_path / "dest", label="test.zip")
    assert not (tmp_path / "dest").exists()  # refused before anything is written
    assert not list(tmp_path.rglob("evil.txt")) and not (tmp_path.parent / "evil.txt").exists()


def test_extract_refuses_links(tmp_path):
    archive = zipfile.ZipFile(io.BytesIO(_zip({"data/ok.json": b"{}"}, {"data/link.json": "/etc/passwd"})))
    with pytest.raises(SourceError, match="symbolic link"):
        src.extract(archive, "data/", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_extract_takes_only_the_wanted_members(tmp_path):
    archive = zipfile.ZipFile(
        io.BytesIO(
            _zip({"repo-abc/data/a.json": b"1", "repo-abc/data/b.json": b"2", "repo-abc/other/c.json": b"3"})
        )
    )
    src.extract(archive, "data/", tmp_path / "dest", wanted={"a.json"})
    assert [p.name for p in (tmp_path / "dest").rglob("*")] == ["a.json"]


def test_every_release_is_https_and_pinned():
    pins = src.load_pins()
    assert set(pins) == set(src.RELEASES)
    for name, (url, _, _) in src.RELEASES.items():
        assert url.startswith("https://"), name
        assert pins[name]["files"] and src.content_digest(pins[name]["files"]) == pins[name]["sha256"]


def test_the_pins_are_those_of_the_shared_sources(sources_dir):
    """The shared copy is byte for byte the releases (mlama1.1: rebuilt from two mirrors that
    agree; see ../shared/data/README.md), so its hashes are the pins."""
    assert src.pin_sources(sources_dir) == src.load_pins()


def test_an_edited_pins_file_is_refused(tmp_path):
    pins = src.load_pins()
    first = next(iter(pins["pararel"]["files"]))
    pins["pararel"]["files"][first] = "0" * 64
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(pins))
    with pytest.raises(SourceError, match="pins of pararel do not match its sha256"):
        src.load_pins(path)


def _releases(sources_dir, pins, change: str | None = None) -> dict[str, bytes]:
    """Archives laid out like the official ones, from the shared copy: the pinned files
    under each release's inner folder, plus a file that must not be taken."""
    out = {}
    for name, (url, inner, folder) in src.RELEASES.items():
        prefix = "" if name == "mlama1.1" else f"{name}-main/"
        members = {f"{prefix}README.md": b"not taken"}
        for rel in pins[name]["files"]:
            data = (sources_dir / folder / rel).read_bytes()
            if change == f"{folder}/{rel}":
                data = data[:-2] + b" \n"
            members[f"{prefix}{inner}{rel}"] = data
        out[url] = _zip(members)
    return out


def _subset(pins: dict, n: int = 3) -> dict:
    out = {}
    for name, pin in pins.items():
        files = dict(sorted(pin["files"].items())[:n])
        out[name] = {"sha256": src.content_digest(files), "files": files}
    return out


def _serve(monkeypatch, archives: dict[str, bytes]) -> list[str]:
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return io.BytesIO(archives[url])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_extracts_and_verifies_the_pinned_files(sources_dir, tmp_path, monkeypatch):
    pins = _subset(src.load_pins())
    asked = _serve(monkeypatch, _releases(sources_dir, pins))
    src.download_sources(tmp_path / "sources", pins)
    assert sorted(asked) == sorted(url for url, _, _ in src.RELEASES.values())
    got = src.pin_sources(tmp_path / "sources")
    assert {k: v["files"] for k, v in got.items()} == {k: v["files"] for k, v in pins.items()}
    assert not list((tmp_path / "sources").rglob("README.md"))


def test_a_changed_file_in_a_download_is_an_error_naming_it(sources_dir, tmp_path, monkeypatch):
    pins = _subset(src.load_pins())
    victim = next(iter(pins["pararel"]["files"]))
    _serve(monkeypatch, _releases(sources_dir, pins, change=f"pararel/patterns/{victim}"))
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "old").write_text("the previous copy")
    with pytest.raises(SourceError, match=rf"pararel: {victim} has sha256 [0-9a-f]{{64}}, expected"):
        src.download_sources(tmp_path / "sources", pins)
    assert (tmp_path / "sources" / "old").read_text() == "the previous copy"  # kept
    assert [p.name for p in tmp_path.iterdir()] == ["sources"]  # no temporary folder left


def test_a_plain_http_release_is_refused(tmp_path, monkeypatch):
    plain = ("http://example.org/mlama1.1.zip", "mlama1.1/", "mlama1.1")
    monkeypatch.setitem(src.RELEASES, "mlama1.1", plain)
    _serve(monkeypatch, {})
    with pytest.raises(SourceError, match="is not https"):
        src.download_sources(tmp_path / "sources", _subset(src.load_pins()))


def test_an_empty_source_file_is_an_error_unless_allowed(sources_dir, tmp_path):
    path = _copy_lang(sources_dir, tmp_path)
    path.write_text("\n")
    with pytest.raises(SourceError, match=r"P36\.jsonl: no facts in this source file.*--allow-empty-sources"):
        src.read_facts(tmp_path, "en", "P36")
    assert src.read_facts(tmp_path, "en", "P36", allow_empty=True) == []


def test_a_source_that_is_not_utf8_names_the_line(sources_dir, tmp_path):
    path = _copy_lang(sources_dir, tmp_path)
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b"Q", b"\xe9Q", 1)
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(SourceError, match=r"P36\.jsonl:3: not UTF-8"):
        src.read_facts(tmp_path, "en", "P36")


def test_a_damaged_archive_member_is_an_error_naming_the_release(sources_dir, tmp_path, monkeypatch):
    pins = _subset(src.load_pins())
    archives = _releases(sources_dir, pins)
    url = src.RELEASES["pararel"][0]
    data = bytearray(archives[url])
    first = next(iter(pins["pararel"]["files"]))
    at = bytes(data).find((src.RELEASES["pararel"][1] + first).encode()) + 200  # inside its data
    data[at : at + 8] = b"\x00" * 8
    archives[url] = bytes(data)
    _serve(monkeypatch, archives)
    with pytest.raises(SourceError, match="pararel: .* (is a damaged zip archive|has sha256)"):
        src.download_sources(tmp_path / "sources", pins)
