"""`rml-build push`: what goes up to the Hub, in one commit, through the real HfApi.

The Hub is an in-memory fake behind ``huggingface_hub.set_client_factory`` with an
``httpx2.MockTransport``: it answers repo creation, tree listing, preupload, the LFS batch
and upload, the commit, and serves the committed files back, so ``datasets.load_dataset``
can read the pushed dataset as it would from the Hub.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import httpx2
import huggingface_hub
import pytest
import yaml
from click.testing import CliRunner

from builders.build import BuildConfig, build
from builders.cli import main
from builders.errors import BuildError
from builders.publish import plan_upload, push

# huggingface_hub's LFS upload passes bytes as data=, which httpx2 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

# the public sources, as tests/conftest.py finds them
SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[3] / "shared" / "data")
ENDPOINT = "https://hub.test"
TOKEN = "hf_SECRETtoken0123456789"

BANK = {
    "fi": [
        "[X] on alue, jonka pääkaupunki on [Y].",
        "Kaupunki, joka on alueen [X] pääkaupunki, on [Y].",
        "[X] on alue, jonka hallinnollinen pääkaupunki on [Y].",
    ],
    "en": [
        "The capital of [X] is [Y].",
        "[X]'s capital city is [Y].",
        "The seat of government of [X] is [Y].",
    ],
}


class FakeHub:
    """Just enough of the Hub API for create_repo, create_commit and downloads."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.lfs: dict[str, bytes] = {}
        self.commits: list[dict] = []
        self.requests: list[httpx2.Request] = []
        self.validated: list[dict] = []  # card metadata seen by validate-yaml

    def sha(self, repo: str) -> str:
        return hashlib.sha1(f"{repo}:{len(self.commits)}".encode()).hexdigest()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path, method = unquote(request.url.path), request.method
        if path == "/api/repos/create":
            body = json.loads(request.content)
            repo = f"{body['organization']}/{body['name']}"
            if repo in self.repos:
                return httpx2.Response(
                    409,
                    json={
                        "error": "You already created this dataset repo",
                        "url": f"{ENDPOINT}/datasets/{repo}",
                    },
                )
            self.repos[repo] = {}
            return httpx2.Response(200, json={"url": f"{ENDPOINT}/datasets/{repo}", "name": repo})
        if path == "/api/validate-yaml":  # the Hub checks a card's metadata before a commit
            content = json.loads(request.content)["content"]
            header = content.split("---")[1] if content.startswith("---") else ""
            try:
                meta = yaml.safe_load(header) or {}
            except yaml.YAMLError as e:
                return httpx2.Response(400, json={"errors": [{"message": str(e)}]})
            self.validated.append(meta)
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/[^/]+", path):
            files = json.loads(request.content)["files"]
            return httpx2.Response(
                200,
                json={
                    "files": [
                        {
                            "path": f["path"],
                            "uploadMode": "lfs" if f["path"].endswith(".parquet") else "regular",
                            "shouldIgnore": False,
                        }
                        for f in files
                    ]
                },
            )
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path):
            objects = json.loads(request.content)["objects"]
            return httpx2.Response(
                200,
                json={
                    "objects": [
                        {
                            "oid": o["oid"],
                            "size": o["size"],
                            "actions": {"upload": {"href": f"{ENDPOINT}/lfs-upload/{o['oid']}"}},
                        }
                        for o in objects
                    ]
                },
            )
        if m := re.fullmatch(r"/lfs-upload/([0-9a-f]+)", path):
            data = request.read()
            assert hashlib.sha256(data).hexdigest() == m.group(1)
            self.lfs[m.group(1)] = data
            return httpx2.Response(200)
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/[^/]+", path):
            return self._commit(m.group(1), request.read())
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
            return self._info(m.group(1))
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/[^/]+(?:/(.*))?", path):
            recursive = request.url.params.get("recursive", "").lower() == "true"
            return self._tree(m.group(1), m.group(2) or "", recursive)
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/paths-info/[^/]+", path):
            form = dict(x.split("=", 1) for x in request.read().decode().split("&") if "=" in x)
            wanted = [unquote(v) for k, v in form.items() if k == "paths"]
            return httpx2.Response(200, json=[e for e in self._entries(m.group(1)) if e["path"] in wanted])
        if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path):
            return self._resolve(m.group(1), m.group(2), method)
        return httpx2.Response(
            404,
            json={"error": f"fake hub: no route for {method} {path}"},
            headers={"x-error-code": "EntryNotFound"},
        )

    def _commit(self, repo: str, payload: bytes) -> httpx2.Response:
        lines = [json.loads(x) for x in payload.decode().splitlines() if x.strip()]
        files = self.repos.setdefault(repo, {})
        commit = {"repo": repo, "ops": []}
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "header":
                commit["summary"], commit["description"] = value["summary"], value.get("description")
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
                commit["ops"].append(("add", value["path"]))
            elif key == "lfsFile":
                files[value["path"]] = self.lfs[value["oid"]]
                commit["ops"].append(("add", value["path"]))
            elif key in ("deletedFile", "deletedFolder"):
                files.pop(value["path"], None)
                commit["ops"].append(("delete", value["path"]))
        self.commits.append(commit)
        return httpx2.Response(
            200,
            json={
                "commitUrl": f"{ENDPOINT}/datasets/{repo}/commit/{self.sha(repo)}",
                "commitOid": self.sha(repo),
            },
        )

    def _entries(self, repo: str) -> list[dict]:
        return [
            {"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
            for p, b in sorted(self.repos.get(repo, {}).items())
        ]

    def _info(self, repo: str) -> httpx2.Response:
        if repo not in self.repos:
            return httpx2.Response(
                404, json={"error": "Repository not found"}, headers={"x-error-code": "RepoNotFound"}
            )
        return httpx2.Response(
            200,
            json={
                "id": repo,
                "sha": self.sha(repo),
                "private": False,
                "tags": [],
                "downloads": 0,
                "lastModified": "2026-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(self.repos[repo])],
            },
        )

    def _tree(self, repo: str, prefix: str, recursive: bool) -> httpx2.Response:
        out, folders = [], set()
        for e in self._entries(repo):
            if prefix and not e["path"].startswith(prefix + "/"):
                continue
            rest = e["path"][len(prefix) + 1 :] if prefix else e["path"]
            if "/" in rest and not recursive:
                folders.add((prefix + "/" if prefix else "") + rest.split("/")[0])
            else:
                out.append(e)
        out += [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in sorted(folders)]
        return httpx2.Response(200, json=out)

    def _resolve(self, repo: str, path: str, method: str) -> httpx2.Response:
        data = self.repos.get(repo, {}).get(path)
        if data is None:
            return httpx2.Response(
                404, headers={"x-error-code": "EntryNotFound"}, json={"error": "Entry not found"}
            )
        headers = {
            "etag": f'"{hashlib.sha1(data).hexdigest()}"',
            "x-repo-commit": self.sha(repo),
            "content-length": str(len(data)),
        }
        return httpx2.Response(200, content=b"" if method == "HEAD" else data, headers=headers)


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub()
    huggingface_hub.set_client_factory(
        lambda: httpx2.Client(transport=httpx2.MockTransport(fake), follow_redirects=True)
    )
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    # Xet uploads go through hf_xet's own (Rust) HTTP client, which no mock transport reaches;
    # the fake speaks the LFS protocol that huggingface_hub falls back to.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    yield fake
    from huggingface_hub.utils._http import default_client_factory

    huggingface_hub.set_client_factory(default_client_factory)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("push")
    (root / "bank").mkdir()
    for lang, templates in BANK.items():
        (root / "bank" / f"{lang}.yaml").write_text(
            "P36:\n" + "".join(f'  - "{t}"\n' for t in templates), encoding="utf-8"
        )
    build(
        BuildConfig(
            SOURCES,
            out=root / "ds",
            languages=["fi", "en"],
            relations=["P36"],
            max_facts_per_relation=6,
            bank_dir=root / "bank",
            progress=False,
        )
    )
    return root / "ds"


def test_plan_lists_card_data_and_manifest_only(dataset):
    plan = plan_upload(dataset)
    assert plan.files == ["README.md", "data/en/test.parquet", "data/fi/test.parquet", "manifest.json"]
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert plan.message == f"RML-LAMA {manifest['content_hash'][:16]}"
    assert manifest["content_hash"] in plan.description


def test_push_uploads_one_commit_with_exact_bytes(dataset, hub):
    info = push(dataset, "org/rml-lama", endpoint=ENDPOINT)
    assert "org/rml-lama" in hub.repos and len(hub.commits) == 1
    commit = hub.commits[0]
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert commit["summary"] == f"RML-LAMA {manifest['content_hash'][:16]}"
    files = hub.repos["org/rml-lama"]
    assert sorted(files) == ["README.md", "data/en/test.parquet", "data/fi/test.parquet", "manifest.json"]
    for name, data in files.items():
        assert data == (dataset / name).read_bytes(), name
    assert info.oid == hub.sha("org/rml-lama")
    configs = {c["config_name"]: c for c in hub.validated[0]["configs"]}
    assert configs["fi"]["data_files"] == [{"split": "test", "path": "data/fi/*.parquet"}]
    # the token went to the Hub in headers, and nowhere else
    writes = [r for r in hub.requests if re.search(r"/(create|preupload|commit)\b", r.url.path)]
    assert len(writes) == 3
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in writes)
    assert not any(TOKEN.encode() in data for data in files.values())


def test_push_again_keeps_repo_and_drops_stale_data(dataset, hub):
    hub.repos["org/rml-lama"] = {"data/zh/test.parquet": b"old", "README.md": b"old card"}
    push(dataset, "org/rml-lama", endpoint=ENDPOINT)
    ops = hub.commits[-1]["ops"]
    assert ("delete", "data/zh/test.parquet") in ops
    assert "data/zh/test.parquet" not in hub.repos["org/rml-lama"]
    assert hub.repos["org/rml-lama"]["README.md"] == (dataset / "README.md").read_bytes()


def test_push_refuses_a_changed_folder(dataset, tmp_path, hub):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    (copy / "data" / "fi" / "test.parquet").write_bytes(b"not parquet")
    with pytest.raises(BuildError, match="changed since the build"):
        push(copy, "org/rml-lama", endpoint=ENDPOINT)
    assert not hub.commits


def test_load_dataset_from_the_pushed_repo_matches_local(dataset, hub, tmp_path, monkeypatch):
    import datasets

    push(dataset, "org/rml-lama", endpoint=ENDPOINT)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(
        datasets.config, "HUB_DATASETS_URL", ENDPOINT + "/datasets/{repo_id}/resolve/{revision}/{path}"
    )
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    remote = datasets.load_dataset("org/rml-lama", "fi", split="test", cache_dir=str(tmp_path / "c"))
    local = datasets.load_dataset(str(dataset), "fi", split="test", cache_dir=str(tmp_path / "c2"))
    assert remote.to_list() == local.to_list()
    facts = json.loads((dataset / "manifest.json").read_text())["statistics"]["fi"]["facts"]
    assert len(remote) == facts > 0 and set(remote["language"]) == {"fi"}
    assert any(
        r.url.path.endswith("/resolve/" + hub.sha("org/rml-lama") + "/data/fi/test.parquet")
        or "/data/fi/test.parquet" in r.url.path
        for r in hub.requests
        if r.method == "GET"
    )


def test_cli_push_dry_run_and_push(dataset, hub, monkeypatch):
    runner = CliRunner()
    r = runner.invoke(main, ["push", "--repo-id", "org/x", "--path", str(dataset), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "data/fi/test.parquet" in r.output and "validation_report" not in r.output
    assert not hub.requests
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    r = runner.invoke(main, ["push", "--repo-id", "org/x", "--path", str(dataset), "--private"])
    assert r.exit_code == 0, r.output
    assert json.loads(hub.requests[0].content)["visibility"] == "private"
    assert TOKEN not in r.output


def test_rml_lama_load_reads_the_pushed_repo(dataset, hub, monkeypatch):
    """``rml_lama.load(lang, repo_id=…)`` reads a published copy (here the fake Hub) through
    the session's own Hub cache, and gives the rows of the local build."""
    import datasets

    import rml_lama

    push(dataset, "org/rml-lama", endpoint=ENDPOINT)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(
        datasets.config, "HUB_DATASETS_URL", ENDPOINT + "/datasets/{repo_id}/resolve/{revision}/{path}"
    )
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}",
    )
    remote = rml_lama.load("fi", repo_id="org/rml-lama")
    assert remote.to_list() == rml_lama.load("fi", dataset).to_list()
    assert len(remote) > 0


# -- failures of the commit -------------------------------------------------------------------


class FailingCommitHub(FakeHub):
    """The Hub answers everything but the commit: a 500, or no answer in time."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault
        self.commit_attempts = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if re.search(r"/commit/", request.url.path):
            self.commit_attempts += 1
            self.requests.append(request)
            if self.fault == "timeout":
                raise httpx2.ReadTimeout("The read operation timed out", request=request)
            return httpx2.Response(500, json={"error": "Internal Error - We're working hard to fix this"})
        return super().__call__(request)


@pytest.fixture
def failing_hub(monkeypatch, request):
    from huggingface_hub.utils import _http

    fake = FailingCommitHub(request.param)
    huggingface_hub.set_client_factory(
        lambda: httpx2.Client(transport=httpx2.MockTransport(fake), follow_redirects=True)
    )
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(_http.time, "sleep", lambda s: None)  # the client's retry backoff
    yield fake
    from huggingface_hub.utils._http import default_client_factory

    huggingface_hub.set_client_factory(default_client_factory)


@pytest.mark.parametrize(
    "failing_hub, message",
    [
        ("error", "the Hub refused the push to org/rml-lama: Server error '500"),
        ("timeout", "the push to org/rml-lama timed out (ReadTimeout)"),
    ],
    indirect=["failing_hub"],
)
def test_a_failed_or_timed_out_commit_is_one_line_and_commits_nothing(
    dataset, failing_hub, message, monkeypatch
):
    """Before: a ReadTimeout on the commit escaped as a traceback. Now both are a BuildError
    (one line from the CLI, exit 2), nothing is committed, the folder is unchanged, and the
    token is in no message."""
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    with pytest.raises(BuildError, match=re.escape(message)) as e:
        push(dataset, "org/rml-lama", endpoint=ENDPOINT)
    assert TOKEN not in str(e.value) and "\n" not in str(e.value)
    assert failing_hub.commit_attempts >= 1 and not failing_hub.commits
    assert not failing_hub.repos.get("org/rml-lama")
    monkeypatch.setenv("HF_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", ENDPOINT)
    res = CliRunner().invoke(main, ["push", "--repo-id", "org/rml-lama", "--path", str(dataset)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("rml-build: error:")]
    assert len(errors) == 1 and message.split(":")[0] in errors[0]
    assert {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()} == before
