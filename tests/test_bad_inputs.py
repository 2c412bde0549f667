"""The catalogue of bad inputs: every CLI, given a bad name, value, path or file, or meeting
a fault (full disk, no network, a damaged run folder), exits with a non-zero code and one
line that names what is wrong, and leaves its output folder as it was (or absent).

Each case is a CLI invocation (``rml-build``, ``rml-eval``, ``rml-leaderboard``), the exit
code expected, a fragment of the one-line message, and what must hold for the output folder
afterwards: ``absent`` (never created) or ``untouched`` (byte for byte and file for file as
before, e.g. a previous build). ``setup`` prepares files in the case's folder and may patch
a fault in (``monkeypatch``); it returns extra placeholders for the arguments.

No case loads a real model for long: models are a tiny random GPT-2 saved to a folder, or
names that fail before loading anything.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import pytest
from click.testing import CliRunner

from harness.tasks.output import Output
from rml_lama import DATASET_DIR

SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[2] / "shared" / "data")
BUILD = [
    "build",
    "--sources",
    "{sources}",
    "--languages",
    "en,fi",
    "--relations",
    "P36",
    "--max-facts",
    "5",
    "--out",
    "{out}",
    "--quiet",
]


@dataclass
class Case:
    id: str
    cli: str  # build, eval, leaderboard
    args: list[str]
    code: int
    fragment: str
    setup: Callable[[Path, pytest.MonkeyPatch], dict] | None = None
    # absent, untouched, run (a run folder whose summary records the failure) or started
    # (a run folder with its config and no summary: --resume continues it)
    out: str = "absent"
    needs: tuple[str, ...] = ()  # "dataset": the built rml_lama/; "model": the tiny model folder
    env: dict[str, str] = field(default_factory=dict)


# -- helpers for setups ------------------------------------------------------------------------


def sources_copy(tmp: Path, lang: str = "fi", edit: Callable[[Path], None] | None = None) -> Path:
    """A sources folder: links to the shared data, except ``mlama1.1/<lang>`` which is a
    copy that ``edit`` may damage."""
    root = tmp / "src"
    (root / "mlama1.1").mkdir(parents=True)
    for name in ("mlama1.1-objects", "pararel", "mpararel"):
        (root / name).symlink_to(SOURCES / name)
    for d in (SOURCES / "mlama1.1").iterdir():
        if d.name == lang:
            shutil.copytree(d, root / "mlama1.1" / lang)
        else:
            (root / "mlama1.1" / d.name).symlink_to(d)
    if edit:
        edit(root / "mlama1.1" / lang)
    return root


def damaged_sources(edit: Callable[[Path], None], lang: str = "fi"):
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        return {"sources": str(sources_copy(tmp, lang, edit))}

    return setup


def bank_with(text: str | bytes, lang: str = "fi"):
    """A bank folder: the curated en.yaml and fi.yaml, with ``lang`` replaced by ``text``."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        bank = tmp / "bank"
        bank.mkdir()
        repo_bank = Path(__file__).resolve().parents[1] / "builders" / "bank"
        for f in repo_bank.glob("*.yaml"):
            shutil.copy(f, bank / f.name)
        data = text.encode() if isinstance(text, str) else text
        (bank / f"{lang}.yaml").write_bytes(data)
        return {"bank": str(bank)}

    return setup


def previous_build(fault: Callable[[pytest.MonkeyPatch], None]):
    """Build once into {out} (the previous good state), then patch ``fault`` in."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        from builders.cli import main

        args = [a.format(sources=SOURCES, out=tmp / "out") for a in BUILD]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        fault(mp)
        return {}

    return setup


def disk_error(code: int):
    def fault(mp: pytest.MonkeyPatch) -> None:
        import pyarrow.parquet as pq

        def write_table(*a, **k):
            raise OSError(code, os.strerror(code), str(a[1]) if len(a) > 1 else None)

        mp.setattr(pq, "write_table", write_table)

    return fault


def failing_rename(n: int):
    """``os.replace`` in the dataset writer fails on its ``n``-th call."""

    def fault(mp: pytest.MonkeyPatch) -> None:
        import builders.write as write

        calls = {"n": 0}
        real = os.replace

        class _OS:
            def __getattr__(self, name):
                return getattr(os, name)

            def replace(self, a, b):
                calls["n"] += 1
                if calls["n"] == n:
                    raise OSError(errno.EIO, "Input/output error", str(a))
                return real(a, b)

        mp.setattr(write, "os", _OS())

    return fault


def offline_download(archive: bytes | None = None, member_fault: str | None = None):
    """No --sources, no $RML_LAMA_SOURCES, an empty cache: the build downloads the releases.
    ``urlopen`` serves ``archive`` for every release (or fails: offline)."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        import urllib.request

        mp.delenv("RML_LAMA_SOURCES", raising=False)
        mp.setenv("RML_LAMA_CACHE", str(tmp / "cache"))

        def urlopen(url, timeout=None):
            if archive is None:
                raise OSError("Name or service not known")
            return io.BytesIO(archive)

        mp.setattr(urllib.request, "urlopen", urlopen)
        return {}

    return setup


def zip_with(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return buf.getvalue()


def release_like(change: str | None = None) -> bytes:
    """An archive laid out like the mLAMA 1.1 release with its pinned files (the same zip
    is served for every release, so the others fail their pins: enough for these cases)."""
    members = {}
    for lang_dir in sorted(d for d in (SOURCES / "mlama1.1").iterdir() if d.is_dir())[:1]:
        for f in sorted(lang_dir.iterdir())[:3]:
            data = f.read_bytes()
            if change == f.name:
                data = data.replace(b"uuid", b"uuId", 1)
            members[f"mlama1.1/{lang_dir.name}/{f.name}"] = data
    return zip_with(members)


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def files(mapping: dict[str, str | bytes]):
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        for rel, data in mapping.items():
            write(tmp / rel, data)
        return {}

    return setup


def plugin(code: str):
    """A module ``plug_<case>`` on sys.path; placeholder {plugin} is its name."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        name = f"plug_{hashlib.sha1(str(tmp).encode()).hexdigest()[:10]}"
        write(tmp / "plugins" / f"{name}.py", code)
        mp.syspath_prepend(str(tmp / "plugins"))
        return {"plugin": name}

    return setup


def combine(*setups):
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        out = {}
        for s in setups:
            out.update(s(tmp, mp))
        return out

    return setup


# -- run folders for rml-eval --resume ------------------------------------------------------

EVAL = [
    "--localizer",
    "random",
    "--localizer-option",
    "random.count=2",
    "--model",
    "{model}",
    "--languages",
    "en",
    "--facts",
    "1",
    "--tasks",
    "layer-distribution",
    "--steps",
    "2",
    "--out",
    "{out}",
    "-q",
]


def run_folder(damage: Callable[[Path], None] | None, config: bool = True):
    """A run folder made with the settings of EVAL (a config and one committed shard),
    then ``damage``d. The case runs EVAL with --resume."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        from harness.evaluate import EvalConfig
        from harness.runs import RunFolder

        model = tmp.parent / "model"
        cfg = EvalConfig(
            model=str(model),
            localizers=["random"],
            tasks=["layer-distribution"],
            languages=["en"],
            facts=1,
            out=str(tmp / "out"),
            steps=2,
            localizer_options={"random": {"count": 2}},
            progress=False,
        )
        run = RunFolder(tmp / "out")
        run.start(cfg.resolved(), resume=False)
        run.write_shard(
            0,
            0,
            ["fact-0"],
            [
                {
                    "fact": "fact-0",
                    "relation": "P36",
                    "localizer": "random",
                    "layer": 0,
                    "index": 1,
                    "score": 0.0,
                }
            ],
            {"layer-distribution": [{"fact": "fact-0", "localizer": "random"}]},
        )
        if not config:
            (tmp / "out" / "config.json").unlink()
        if damage:
            damage(tmp / "out")
        return {}

    return setup


def summary_run(summary: str | bytes, name: str = "r"):
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        write(tmp / "runs" / name / "config.json", json.dumps({"model": "m"}))
        write(tmp / "runs" / name / "summary.json", summary)
        return {}

    return setup


# -- Hub faults for rml-build push ------------------------------------------------------------


def hub(fault: str):
    """A built dataset in {path} and a Hub that is unreachable, or times out on the commit."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        import httpx2
        import huggingface_hub
        from huggingface_hub.utils import _http

        previous_build(lambda _: None)(tmp, mp)

        def handler(request: httpx2.Request) -> httpx2.Response:
            if fault == "offline":
                raise httpx2.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)
            if "/commit/" in request.url.path:
                raise httpx2.ReadTimeout("The read operation timed out", request=request)
            if request.url.path == "/api/repos/create":
                return httpx2.Response(200, json={"url": "https://huggingface.co/datasets/org/x"})
            if "/preupload/" in request.url.path:
                return httpx2.Response(
                    200,
                    json={
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in json.loads(request.content)["files"]
                        ]
                    },
                )
            if "/tree/" in request.url.path:
                return httpx2.Response(200, json=[])
            return httpx2.Response(200, json={"errors": [], "warnings": []})

        huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(handler)))
        mp.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
        mp.setenv("HF_TOKEN", "hf_SECRETtoken0123456789")
        mp.setattr(_http.time, "sleep", lambda s: None)  # the client's retry backoff
        return {"path": str(tmp / "out")}

    return setup


# -- the catalogue ------------------------------------------------------------------------------


def _no_facts(d: Path) -> None:
    (d / "P36.jsonl").write_text("")


def _not_utf8(d: Path) -> None:
    (d / "P36.jsonl").write_bytes((d / "P36.jsonl").read_bytes()[:200] + b"\xff\xfe\n")


def _bad_json(d: Path) -> None:
    lines = (d / "P36.jsonl").read_text().splitlines()
    lines[1] = '{"uuid": "broken'
    (d / "P36.jsonl").write_text("\n".join(lines) + "\n")


def _missing_field(d: Path) -> None:
    lines = (d / "P36.jsonl").read_text().splitlines()
    lines[0] = '{"uuid": "u", "sub_label": "", "sub_uri": "Q1", "obj_label": "x", "obj_uri": "Q2"}'
    (d / "P36.jsonl").write_text("\n".join(lines) + "\n")


def _templates_not_utf8(d: Path) -> None:
    (d / "templates.jsonl").write_bytes(b'{"relation": "P36", "template": "\xc3("}\n')


def _not_a_list(d: Path) -> None:
    (d / "P36.jsonl").write_text('["a list", "not an object"]\n')


def _dataset_with_manifest(text: str):
    """The built dataset's data and card, with ``text`` as its manifest."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        (tmp / "ds").mkdir()
        (tmp / "ds" / "data").symlink_to(DATASET_DIR / "data")
        shutil.copy(DATASET_DIR / "README.md", tmp / "ds" / "README.md")
        (tmp / "ds" / "manifest.json").write_text(text)
        return {}

    return setup


def interrupt(target: str):
    """Ctrl-C inside ``module:function``."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
        import importlib

        module, name = target.split(":")

        def raise_interrupt(*a, **k):
            raise KeyboardInterrupt

        mp.setattr(importlib.import_module(module), name, raise_interrupt)
        return {}

    return setup


def _edit_card(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
    with open(tmp / "out" / "README.md", "a", encoding="utf-8") as f:
        f.write("edited\n")
    return {}


class _Exits:
    """A plugin localizer that calls sys.exit(0)."""

    def localize(self, fact, provider):
        sys.exit(0)


class _NoRow(TypedDict):
    localizer: str


class _ExitingTask:
    """A plugin task that calls sys.exit(0) on its first fact."""

    name = "exits-task"
    requires: tuple[str, ...] = ()
    output = Output(row=_NoRow, metrics=())

    def evaluate(self, ctx, fact, neurons):
        sys.exit(0)

    def summarize(self, records):
        return []


class _NoOutputTask(_ExitingTask):
    """A plugin task that declares no output (tables could not show it)."""

    name = "no-output-task"
    output = None


def _register_exits(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
    from harness import registry

    mp.setitem(
        registry._REGISTRY.entries["task"],
        "no-output-task",
        registry.Entry("task", "no-output-task", _NoOutputTask, "test", "test"),
    )
    mp.setitem(
        registry._REGISTRY.entries["task"],
        "exits-task",
        registry.Entry("task", "exits-task", _ExitingTask, "test", "test"),
    )
    mp.setitem(
        registry._REGISTRY.entries["localizer"],
        "exits",
        registry.Entry("localizer", "exits", _Exits, "test", "test"),
    )
    return {}


BUILD_CASES = [
    Case(
        "build-interrupted",
        "build",
        BUILD,
        130,
        "interrupted;",
        combine(previous_build(lambda mp: None), interrupt("builders.write:write_dataset")),
        out="untouched",
    ),
    Case(
        "build-languages-empty",
        "build",
        ["build", "--languages", "", "--out", "{out}"],
        2,
        "--languages: at least one language",
    ),
    Case(
        "build-languages-comma",
        "build",
        ["build", "--languages", ",", "--out", "{out}"],
        2,
        "--languages: at least one language",
    ),
    Case(
        "build-languages-unknown",
        "build",
        ["build", "--languages", "en,xx", "--out", "{out}"],
        2,
        "unknown language(s) xx",
    ),
    Case(
        "build-relations-unknown",
        "build",
        ["build", "--relations", "P999", "--out", "{out}"],
        2,
        "unknown relation",
    ),
    Case(
        "build-relations-empty",
        "build",
        ["build", "--relations", "", "--out", "{out}"],
        2,
        "at least one relation",
    ),
    Case("build-max-facts-zero", "build", [*BUILD, "--max-facts", "0"], 2, "--max-facts must be at least 1"),
    Case("build-max-facts-text", "build", [*BUILD, "--max-facts", "abc"], 2, "'abc' is not a valid integer"),
    Case(
        "build-sources-missing",
        "build",
        [*BUILD[:1], "--sources", "{tmp}/nowhere", *BUILD[3:]],
        2,
        "no mlama1.1/ folder",
    ),
    Case(
        "build-source-empty-file",
        "build",
        BUILD,
        2,
        "P36.jsonl: no facts in this source file",
        damaged_sources(_no_facts),
    ),
    Case("build-source-not-utf8", "build", BUILD, 2, "P36.jsonl:2: not UTF-8", damaged_sources(_not_utf8)),
    Case(
        "build-source-bad-json", "build", BUILD, 2, "P36.jsonl:2: malformed JSON", damaged_sources(_bad_json)
    ),
    Case(
        "build-source-missing-field",
        "build",
        BUILD,
        2,
        "P36.jsonl:1: missing or empty field(s) sub_label",
        damaged_sources(_missing_field),
    ),
    Case(
        "build-source-not-object",
        "build",
        BUILD,
        2,
        "P36.jsonl:1: expected a JSON object",
        damaged_sources(_not_a_list),
    ),
    Case(
        "build-source-file-missing",
        "build",
        BUILD,
        2,
        "P36.jsonl: missing source file",
        damaged_sources(lambda d: (d / "P36.jsonl").unlink()),
    ),
    Case(
        "build-templates-not-utf8",
        "build",
        BUILD,
        2,
        "templates.jsonl:1: not UTF-8",
        damaged_sources(_templates_not_utf8, lang="en"),
    ),
    Case(
        "build-bank-not-utf8",
        "build",
        [*BUILD, "--bank", "{bank}"],
        2,
        "fi.yaml: not UTF-8",
        bank_with(b'P36:\n  - "\xff\xfe [X] [Y]."\n'),
    ),
    Case(
        "build-bank-malformed-yaml",
        "build",
        [*BUILD, "--bank", "{bank}"],
        2,
        "fi.yaml:3: malformed YAML",
        bank_with("P36:\n  - [unclosed\n"),
    ),
    Case(
        "build-bank-unknown-relation",
        "build",
        [*BUILD, "--bank", "{bank}"],
        2,
        "unknown relation 'P9999'",
        bank_with('P9999:\n  - "[X] on [Y]."\n'),
    ),
    Case(
        "build-bank-no-y",
        "build",
        [*BUILD, "--bank", "{bank}"],
        2,
        "fails rule",
        bank_with('P36:\n  - "[X]:n pääkaupunki."\n  - "[X] on [Y]."\n  - "[X] a [Y]."\n'),
    ),
    Case(
        "build-bank-too-few",
        "build",
        [*BUILD, "--bank", "{bank}"],
        2,
        "no templates for P36",
        bank_with('P37:\n  - "[X]:n virallinen kieli on [Y]."\n'),
    ),
    Case(
        "build-generated-not-utf8",
        "build",
        [*BUILD, "--rephrasings", "all", "--generated", "{tmp}/gen"],
        2,
        "fi.yaml: not UTF-8",
        files({"gen/fi.yaml": b'P36:\n  - {template: "\xff [X] [Y]."}\n'}),
    ),
    Case(
        "build-generated-malformed-yaml",
        "build",
        [*BUILD, "--rephrasings", "all", "--generated", "{tmp}/gen"],
        2,
        "fi.yaml:3: malformed YAML",
        files({"gen/fi.yaml": "P36:\n  - {template: [\n"}),
    ),
    Case(
        "build-generated-facts-not-utf8",
        "build",
        [*BUILD, "--rephrasings", "all", "--generated", "{tmp}/gen"],
        2,
        "fi.facts.jsonl: not UTF-8",
        files({"gen/fi.facts.jsonl": b"\xff\n"}),
    ),
    Case(
        "build-bank-missing-language",
        "build",
        [*BUILD, "--bank", "{tmp}/emptybank"],
        2,
        "no rephrasing bank for language",
        files({"emptybank/README": "x"}),
    ),
    Case(
        "build-out-read-only",
        "build",
        [*BUILD[:-3], "--out", "/proc/rml-lama-out", "--quiet"],
        2,
        "/proc/rml-lama-out",
    ),
    Case(
        "build-out-is-a-file",
        "build",
        [*BUILD[:-3], "--out", "{tmp}/afile", "--quiet"],
        2,
        "is a file",
        files({"afile": "x"}),
    ),
    Case(
        "build-full-disk",
        "build",
        BUILD,
        2,
        "No space left on device",
        previous_build(disk_error(errno.ENOSPC)),
        out="untouched",
    ),
    Case(
        "build-file-size-limit",
        "build",
        BUILD,
        2,
        "File too large",
        previous_build(disk_error(errno.EFBIG)),
        out="untouched",
    ),
    Case(
        "build-swap-fails-midway",
        "build",
        BUILD,
        2,
        "Input/output error",
        previous_build(failing_rename(3)),
        out="untouched",
    ),
    Case(
        "build-swap-fails-on-manifest",
        "build",
        BUILD,
        2,
        "Input/output error",
        previous_build(failing_rename(8)),
        out="untouched",
    ),
    Case(
        "build-offline-download", "build", BUILD[:1] + BUILD[3:], 2, "pass --sources DIR", offline_download()
    ),
    Case(
        "build-download-zip-slip",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "'mlama1.1/../../evil.txt' is a path with '..'",
        offline_download(zip_with({"mlama1.1/../../evil.txt": b"x"})),
    ),
    Case(
        "build-download-absolute-path",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "'/tmp/evil.txt' is an absolute path",
        offline_download(zip_with({"/tmp/evil.txt": b"x"})),
    ),
    Case(
        "build-download-symlink",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "is a symbolic link",
        offline_download(zip_with({}, {"mlama1.1/en/P36.jsonl": "/etc/passwd"})),
    ),
    Case(
        "build-download-not-zip",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "is not a zip archive",
        offline_download(b"<html>moved</html>"),
    ),
    Case(
        "build-download-hash-mismatch",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "P101.jsonl has sha256",
        offline_download(release_like(change="P101.jsonl")),
    ),
    Case(
        "build-download-file-missing",
        "build",
        BUILD[:1] + BUILD[3:],
        2,
        "is missing from the downloaded release",
        offline_download(release_like()),
    ),
    Case(
        "check-bank-languages-empty",
        "build",
        ["check-bank", "--languages", ""],
        2,
        "--languages: at least one language",
    ),
    Case(
        "check-bank-broken-bank",
        "build",
        ["check-bank", "--languages", "fi", "--relations", "P36", "--bank", "{bank}"],
        2,
        "malformed YAML",
        bank_with("P36: [\n"),
    ),
    Case(
        "generate-unknown-language",
        "build",
        ["generate", "--dry-run", "--languages", "xx", "--out", "{out}"],
        2,
        "unknown language(s) xx",
    ),
    Case(
        "generate-per-relation-zero",
        "build",
        ["generate", "--dry-run", "--per-relation", "0", "--out", "{out}"],
        2,
        "0 is not in the range",
    ),
    Case(
        "generate-key-file-missing",
        "build",
        ["generate", "--key-file", "{tmp}/nokey", "--out", "{out}"],
        2,
        "does not exist",
    ),
    Case(
        "generate-key-file-empty",
        "build",
        [
            "generate",
            "--languages",
            "fi",
            "--relations",
            "P36",
            "--key-file",
            "{tmp}/key",
            "--cache",
            "{tmp}/cache",
            "--out",
            "{out}",
        ],
        2,
        "the file is empty",
        files({"key": ""}),
    ),
    Case(
        "generate-no-key",
        "build",
        ["generate", "--languages", "fi", "--relations", "P36", "--cache", "{tmp}/cache", "--out", "{out}"],
        2,
        "no API key",
        lambda tmp, mp: mp.delenv("ANTHROPIC_API_KEY", raising=False) or {},
    ),
    Case(
        "cache-import-not-utf8",
        "build",
        ["cache", "import", "{tmp}/c.jsonl", "--cache", "{out}"],
        2,
        "not UTF-8",
        files({"c.jsonl": b"\xff\xfe{}\n"}),
    ),
    Case(
        "cache-import-not-entries",
        "build",
        ["cache", "import", "{tmp}/c.jsonl", "--cache", "{out}"],
        1,
        "line 1: not a cache entry",
        files({"c.jsonl": "[1, 2]\n"}),
    ),
    Case(
        "push-no-manifest",
        "build",
        ["push", "--repo-id", "org/x", "--path", "{tmp}/empty"],
        2,
        "no manifest",
        files({"empty/README.md": "x"}),
    ),
    Case(
        "push-garbage-manifest",
        "build",
        ["push", "--repo-id", "org/x", "--path", "{tmp}/ds"],
        2,
        "manifest.json: not a manifest",
        files({"ds/manifest.json": "{not json"}),
    ),
    Case(
        "push-bad-repo-id",
        "build",
        ["push", "--repo-id", "noslash", "--path", "{out}"],
        2,
        "--repo-id 'noslash': expected ORG/NAME",
        previous_build(lambda mp: None),
        out="untouched",
    ),
    Case(
        "push-changed-file",
        "build",
        ["push", "--repo-id", "org/x", "--path", "{out}", "--dry-run"],
        2,
        "README.md: changed since the build",
        combine(previous_build(lambda mp: None), _edit_card),
        out="untouched",
    ),
    Case(
        "push-offline",
        "build",
        ["push", "--repo-id", "org/x", "--path", "{path}"],
        2,
        "cannot reach the Hub to push to org/x",
        hub("offline"),
        out="untouched",
    ),
    Case(
        "push-commit-timeout",
        "build",
        ["push", "--repo-id", "org/x", "--path", "{path}"],
        2,
        "timed out",
        hub("timeout"),
        out="untouched",
    ),
]

M = ["--model", "{model}"]
E = [
    "--languages",
    "en",
    "--facts",
    "1",
    "--steps",
    "2",
    "--tasks",
    "layer-distribution",
    "--out",
    "{out}",
    "-q",
]
MATRICE = ["--localizer", "matrice", *M, *E]

EVAL_CASES = [
    Case(
        "eval-interrupted-while-loading",
        "eval",
        MATRICE,
        130,
        "add --resume",
        interrupt("harness.models:load_model"),
    ),
    Case("eval-localizer-unknown", "eval", ["--localizer", "nope", *M, *E], 2, "unknown localizer 'nope'"),
    Case("eval-localizer-empty", "eval", ["--localizer", ",", *M, *E], 2, "give at least one localizer"),
    Case(
        "eval-model-unknown",
        "eval",
        ["--localizer", "matrice", "--model", "nope", *E],
        2,
        "unknown model 'nope'",
    ),
    Case(
        "eval-model-hf-empty",
        "eval",
        ["--localizer", "matrice", "--model", "hf:", *E],
        2,
        "model 'hf:' needs a hub id",
    ),
    Case(
        "eval-languages-empty",
        "eval",
        ["--localizer", "matrice", *M, "--languages", "", *E[2:]],
        2,
        "--languages: at least one language",
    ),
    Case(
        "eval-languages-comma",
        "eval",
        ["--localizer", "matrice", *M, "--languages", ",", *E[2:]],
        2,
        "--languages: at least one language",
    ),
    Case("eval-languages-unknown", "eval", [*MATRICE, "--languages", "en,xx"], 2, "unknown language(s) xx"),
    Case("eval-relations-unknown", "eval", [*MATRICE, "--relations", "P999"], 2, "unknown relation"),
    Case("eval-relations-empty", "eval", [*MATRICE, "--relations", ""], 2, "at least one relation"),
    Case("eval-tasks-unknown", "eval", [*MATRICE, "--tasks", "nope"], 2, "unknown task 'nope'"),
    Case("eval-tasks-empty", "eval", [*MATRICE, "--tasks", ""], 2, "give at least one task"),
    Case(
        "eval-tau-not-a-number", "eval", [*MATRICE, "--localizer-option", "matrice.tau=abc"], 2, "matrice.tau"
    ),
    Case(
        "eval-tau-out-of-range",
        "eval",
        [*MATRICE, "--localizer-option", "matrice.tau=2"],
        2,
        "tau must be in [0, 1]",
    ),
    Case(
        "eval-matrice-languages-unknown",
        "eval",
        [*MATRICE, "--localizer-option", "matrice.languages=xx"],
        2,
        "matrice.languages: unknown language(s) xx",
    ),
    Case(
        "eval-random-count-negative",
        "eval",
        ["--localizer", "random", "--localizer-option", "random.count=-3", *M, *E],
        2,
        "count must be >= 0",
    ),
    Case(
        "eval-random-count-text",
        "eval",
        ["--localizer", "random", "--localizer-option", "random.count=abc", *M, *E],
        2,
        "random.count",
    ),
    Case(
        "eval-random-match-unknown",
        "eval",
        ["--localizer", "random", "--localizer-option", "random.match=nope", *M, *E],
        2,
        "unknown localizer 'nope'",
    ),
    Case(
        "eval-localizer-option-unknown-key",
        "eval",
        [*MATRICE, "--localizer-option", "matrice.nope=1"],
        2,
        "unknown option(s) nope",
    ),
    Case(
        "eval-localizer-option-malformed",
        "eval",
        [*MATRICE, "--localizer-option", "tau=0.3"],
        2,
        "expected LOCALIZER.KEY=VALUE",
    ),
    Case(
        "eval-localizer-option-other-localizer",
        "eval",
        [*MATRICE, "--localizer-option", "amig.tau=0.3"],
        2,
        "'amig' is not among the run's localizers",
    ),
    Case(
        "eval-task-option-not-a-number",
        "eval",
        [
            "--localizer",
            "matrice",
            *M,
            *E[:-5],
            "--tasks",
            "inject",
            "--task-option",
            "inject.steps=abc",
            "--out",
            "{out}",
        ],
        2,
        "option inject.steps: expected int, got 'abc'",
    ),
    Case(
        "eval-task-option-unknown",
        "eval",
        [*MATRICE, "--task-option", "layer-distribution.nope=1"],
        2,
        "task 'layer-distribution': unknown option(s) nope; valid options: (none)",
    ),
    Case(
        "eval-task-option-flat",
        "eval",
        [*MATRICE, "--task-option", "inject_steps=1"],
        2,
        "expected TASK.KEY=VALUE, e.g. inject.steps=50; did you mean inject.steps?",
    ),
    Case(
        "eval-task-option-other-task",
        "eval",
        [*MATRICE, "--task-option", "inject.steps=1"],
        2,
        "'inject' is not among the run's tasks",
    ),
    Case("eval-threads-negative", "eval", [*MATRICE, "--threads", "-1"], 2, "-1 is not in the range x>=1"),
    Case("eval-threads-zero", "eval", [*MATRICE, "--threads", "0"], 2, "0 is not in the range x>=1"),
    Case("eval-facts-zero", "eval", [*MATRICE, "--facts", "0"], 2, "0 is not in the range x>=1"),
    Case("eval-steps-zero", "eval", [*MATRICE, "--steps", "0"], 2, "0 is not in the range x>=1"),
    Case("eval-max-rows-zero", "eval", [*MATRICE, "--max-rows", "0"], 2, "0 is not in the range x>=1"),
    Case("eval-device-unknown", "eval", [*MATRICE, "--device", "gpu9"], 2, "--device 'gpu9': not a device"),
    Case("eval-fact-ids-missing", "eval", [*MATRICE, "--fact-ids", "{tmp}/ids.txt"], 2, "does not exist"),
    Case(
        "eval-dataset-missing", "eval", [*MATRICE, "--dataset", "{tmp}/nodata"], 2, "no RML-LAMA data there"
    ),
    Case(
        "eval-dataset-garbage-manifest",
        "eval",
        [*MATRICE, "--dataset", "{tmp}/ds"],
        2,
        "manifest.json: not a dataset manifest",
        _dataset_with_manifest("{oops"),
    ),
    Case(
        "eval-dataset-manifest-no-hash",
        "eval",
        [*MATRICE, "--dataset", "{tmp}/ds"],
        2,
        "manifest.json: not a dataset manifest (KeyError",
        _dataset_with_manifest('{"files": {}}'),
    ),
    Case(
        "eval-attribution-cache-unwritable",
        "eval",
        [*MATRICE, "--attribution-cache", "/proc/rml-cache"],
        2,
        "--attribution-cache /proc/rml-cache: cannot write there",
    ),
    Case(
        "eval-fact-ids-not-utf8",
        "eval",
        [*MATRICE, "--fact-ids", "{tmp}/ids.txt"],
        2,
        "ids.txt: not UTF-8",
        files({"ids.txt": b"\xff\xfe\n"}),
    ),
    Case(
        "eval-fact-ids-empty",
        "eval",
        [*MATRICE, "--fact-ids", "{tmp}/ids.txt"],
        2,
        "the file lists no fact id",
        files({"ids.txt": "# nothing\n"}),
    ),
    Case(
        "eval-plugin-missing",
        "eval",
        [*MATRICE, "--plugin", "no_such_plugin_module"],
        2,
        "--plugin no_such_plugin_module: could not import it",
    ),
    Case(
        "eval-plugin-exits-on-import",
        "eval",
        [*MATRICE, "--plugin", "{plugin}"],
        2,
        "its import called sys.exit(0)",
        plugin("import sys\nsys.exit(0)\n"),
    ),
    Case(
        "eval-model-offline",
        "eval",
        ["--localizer", "matrice", "--model", "mgpt", *E],
        2,
        "cannot load model 'mgpt'",
        lambda tmp, mp: {},
        env={"HF_HUB_OFFLINE": "1"},
    ),
    Case(
        "eval-model-folder-not-a-model",
        "eval",
        ["--localizer", "matrice", "--model", "{tmp}/notmodel", *E],
        2,
        "could not load model",
        files({"notmodel/config.json": "{}"}),
    ),
    Case(
        "eval-out-is-a-file",
        "eval",
        [*MATRICE[:-3], "--out", "{tmp}/afile", "-q"],
        2,
        "is a file",
        files({"afile": "x"}),
    ),
    Case(
        "eval-run-exists-no-resume",
        "eval",
        EVAL,
        2,
        "already holds a run; pass --resume",
        run_folder(None),
        out="untouched",
    ),
    Case(
        "eval-resume-other-settings",
        "eval",
        [*EVAL, "--resume", "--seed", "7"],
        2,
        "was made with other settings (seed)",
        run_folder(None),
        out="untouched",
    ),
    Case(
        "eval-resume-config-deleted",
        "eval",
        [*EVAL, "--resume"],
        2,
        "config.json is missing",
        run_folder(None, config=False),
        out="untouched",
    ),
    Case(
        "eval-resume-config-garbage",
        "eval",
        [*EVAL, "--resume"],
        2,
        "config.json: not a valid run config",
        run_folder(lambda d: (d / "config.json").write_text("{oops")),
        out="untouched",
    ),
    Case(
        "eval-resume-config-not-object",
        "eval",
        [*EVAL, "--resume"],
        2,
        "config.json: not a run config",
        run_folder(lambda d: (d / "config.json").write_text("[1]")),
        out="untouched",
    ),
    Case(
        "eval-resume-done-garbage",
        "eval",
        [*EVAL, "--resume"],
        2,
        "r0-000000.done.json: not a valid shard marker",
        run_folder(lambda d: (d / "shards" / "r0-000000.done.json").write_bytes(b"\xff")),
        out="untouched",
    ),
    Case(
        "eval-resume-done-wrong-shape",
        "eval",
        [*EVAL, "--resume"],
        2,
        "not a shard marker (facts, tasks)",
        run_folder(lambda d: (d / "shards" / "r0-000000.done.json").write_text('{"facts": 3}')),
        out="untouched",
    ),
    Case(
        "eval-resume-shard-file-deleted",
        "eval",
        [*EVAL, "--resume"],
        2,
        "r0-000000.layer-distribution.parquet: missing, but shard r0-000000 is marked done",
        run_folder(lambda d: (d / "shards" / "r0-000000.layer-distribution.parquet").unlink()),
        out="untouched",
    ),
    Case(
        "eval-resume-neurons-deleted",
        "eval",
        [*EVAL, "--resume"],
        2,
        "r0-000000.neurons.parquet: missing",
        run_folder(lambda d: (d / "shards" / "r0-000000.neurons.parquet").unlink()),
        out="untouched",
    ),
    # a run that starts, so its folder is written: the failures are recorded in it
    Case(
        "eval-localizer-raises-system-exit",
        "eval",
        ["--localizer", "exits", *M, *E[:2], "--facts", "2", *E[4:]],
        1,
        "localizer exits failed on all 2 facts",
        _register_exits,
        out="run",
    ),
    Case(
        "eval-task-raises-system-exit",
        "eval",
        [
            "--localizer",
            "random",
            "--localizer-option",
            "random.count=2",
            *M,
            *E[:-5],
            "--tasks",
            "exits-task",
            "--out",
            "{out}",
            "-q",
        ],
        2,
        "plugin code called sys.exit(0) during the run",
        _register_exits,
        out="started",
    ),
    Case(
        "eval-task-without-output",
        "eval",
        [*MATRICE, "--tasks", "no-output-task"],
        2,
        "task 'no-output-task': _NoOutputTask declares no `output = Output(...)`",
        _register_exits,
    ),
]
for _c in EVAL_CASES:
    _c.needs = ("dataset", "model")

LEADERBOARD = ["build", "--runs", "{tmp}/runs", "--out", "{out}", "--no-figures", "--no-submissions"]
LEADERBOARD_CASES = [
    Case(
        "leaderboard-submit-not-utf8",
        "leaderboard",
        ["submit", "{tmp}/s.json", "--to", "{out}"],
        1,
        "s.json: invalid submission: $: not UTF-8",
        files({"s.json": b"\xff\xfe{}"}),
    ),
    Case(
        "leaderboard-submit-not-json",
        "leaderboard",
        ["submit", "{tmp}/s.json", "--to", "{out}"],
        1,
        "s.json: invalid submission: $: not JSON",
        files({"s.json": "{oops"}),
    ),
    Case(
        "leaderboard-submit-wrong-shape",
        "leaderboard",
        ["submit", "{tmp}/s.json", "--to", "{out}"],
        1,
        "is not of type 'object'",
        files({"s.json": "[1]"}),
    ),
    Case(
        "leaderboard-schema-unwritable",
        "leaderboard",
        ["schema", "--out", "/proc/rml-schema.json"],
        2,
        "rml-leaderboard: error: /proc/",
    ),
    Case(
        "leaderboard-summary-list",
        "leaderboard",
        LEADERBOARD,
        2,
        "summary.json: not a run summary",
        summary_run("[1, 2]"),
    ),
    Case(
        "leaderboard-summary-tasks-shape",
        "leaderboard",
        LEADERBOARD,
        2,
        "tasks.ablation is not a list of rows",
        summary_run(json.dumps({"tasks": {"ablation": "oops"}})),
    ),
    Case(
        "leaderboard-summary-garbage",
        "leaderboard",
        LEADERBOARD,
        2,
        "summary.json: not valid JSON",
        summary_run("{oops"),
    ),
    Case(
        "leaderboard-summary-not-utf8",
        "leaderboard",
        LEADERBOARD,
        2,
        "summary.json: not valid JSON",
        summary_run(b"\xff\xfe"),
    ),
    Case(
        "leaderboard-empty-runs",
        "leaderboard",
        LEADERBOARD,
        2,
        "nothing to show: no finished run",
        files({"runs/.keep": ""}),
    ),
    Case(
        "leaderboard-unfinished-run",
        "leaderboard",
        LEADERBOARD,
        2,
        "1 unfinished",
        files({"runs/r/config.json": "{}"}),
    ),
    Case(
        "leaderboard-runs-missing",
        "leaderboard",
        ["build", "--runs", "{tmp}/nowhere", "--out", "{out}"],
        2,
        "no such folder",
    ),
    Case(
        "leaderboard-export-no-summary",
        "leaderboard",
        ["export", "{tmp}/runs/r", "--out", "{out}/s.json"],
        2,
        "no summary.json",
        files({"runs/r/config.json": "{}"}),
    ),
]

CASES = BUILD_CASES + EVAL_CASES + LEADERBOARD_CASES


def test_the_catalogue_is_large_and_unique():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


# -- running a case ------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, str] | None:
    if not folder.exists():
        return None
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from harness.adapters.tiny import tiny_model

    path = tmp_path_factory.mktemp("cases") / "model"
    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _main(cli: str):
    if cli == "build":
        from builders.cli import main
    elif cli == "eval":
        from harness.cli import main
    else:
        from harness.leaderboard.cli import main
    return main


def run_case(case: Case, tmp: Path, mp: pytest.MonkeyPatch, model: Path | None):
    for k, v in case.env.items():
        mp.setenv(k, v)
    if "HF_HUB_OFFLINE" in case.env:
        mp.setenv("HF_HOME", str(tmp / "hf"))
        import huggingface_hub.constants as hc

        mp.setattr(hc, "HF_HUB_OFFLINE", True)
    values = {
        "tmp": str(tmp),
        "out": str(tmp / "out"),
        "sources": str(SOURCES),
        "model": str(model) if model else "",
    }
    if case.setup:
        values.update(case.setup(tmp, mp) or {})
    before = snapshot(tmp / "out")
    args = [a.format(**values) for a in case.args]
    res = CliRunner().invoke(_main(case.cli), args)
    return res, before, snapshot(tmp / "out")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, request, tmp_path, monkeypatch):
    if "dataset" in case.needs and not (DATASET_DIR / "manifest.json").exists():
        pytest.skip("needs the built dataset (rml-build)")
    model = request.getfixturevalue("model_dir") if "model" in case.needs else None
    case_dir = tmp_path / "case" if model is None else model.parent / case.id
    case_dir.mkdir(parents=True, exist_ok=True)
    try:
        res, before, after = run_case(case, case_dir, monkeypatch, model)
    finally:
        if case.id.startswith("push-"):
            import huggingface_hub
            from huggingface_hub.utils._http import default_client_factory

            huggingface_hub.set_client_factory(default_client_factory)
    text = res.stderr or res.output
    assert res.exit_code == case.code, f"exit {res.exit_code}:\n{res.output}\n{res.exception!r}"
    assert "Traceback" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exc_info
    lines = [line for line in text.splitlines() if case.fragment in line]
    assert lines, f"{case.fragment!r} not in:\n{text}"
    ours = [line for line in text.splitlines() if ": error: " in line]
    if ours:  # our own message (not click's usage error) is a single line
        assert len(ours) == 1 and case.fragment in ours[0] or "cannot load model" in ours[0], text
    if case.out == "absent":
        assert after is None, f"{case_dir / 'out'} was created: {after}"
    elif case.out == "started":
        assert (case_dir / "out" / "config.json").is_file() and not (
            case_dir / "out" / "summary.json"
        ).exists()
    elif case.out == "run":
        summary = json.loads((case_dir / "out" / "summary.json").read_text())
        assert summary["failures"], summary
    else:
        assert after == before, "the output folder changed"
    assert not (case_dir.parent / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def test_swap_failure_is_restored_whatever_rename_fails(tmp_path, monkeypatch):
    """_swap_in's every rename, made to fail in turn: the previous build stays whole."""
    from builders.cli import main

    args = [a.format(sources=SOURCES, out=tmp_path / "out") for a in BUILD]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = snapshot(tmp_path / "out")
    for n in range(1, 9):
        with monkeypatch.context() as mp:
            failing_rename(n)(mp)
            res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, (n, res.output)
        assert snapshot(tmp_path / "out") == before, n


def test_a_real_file_size_limit_is_one_line_and_keeps_the_previous_build(tmp_path):
    """RLIMIT_FSIZE for real, in a child process (Python ignores SIGXFSZ, so a write past
    the limit is OSError EFBIG): the catalogue's case simulates it, this one does not."""
    import subprocess

    from builders.cli import main

    out = tmp_path / "out"
    args = [a.format(sources=SOURCES, out=out) for a in BUILD]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = snapshot(out)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000)); "
        "from builders.cli import main; main(sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 2, res.stderr
    assert "File too large" in res.stderr and "Traceback" not in res.stderr
    assert len([line for line in res.stderr.splitlines() if "error:" in line]) == 1
    assert snapshot(out) == before
