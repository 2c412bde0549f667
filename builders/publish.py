"""Publish a built dataset folder to the Hugging Face Hub as one commit.

Only the card (``README.md``, whose YAML declares the per-language configs), the data files
and the manifest go up: exactly the files the manifest lists, after checking their hashes,
so a folder changed or half-written since the build is refused. Caches, keys and the
validation report stay local. The commit message names the manifest's content hash, so a
Hub revision can be matched to a local build. The token comes from ``$HF_TOKEN`` (or the
login saved by ``hf auth login``) and is handed to ``huggingface_hub`` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from builders.errors import BuildError
from builders.sources import file_sha256
from builders.write import read_manifest

ALLOWED = ("README.md", "manifest.json")  # besides data/**


@dataclass(frozen=True)
class UploadPlan:
    files: list[str]  # paths relative to the folder, POSIX
    message: str
    description: str


def plan_upload(folder: Path) -> UploadPlan:
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except FileNotFoundError as e:
        raise BuildError(str(e)) from None
    files = manifest.get("files") or {}
    problems = []
    for rel, digest in sorted(files.items()):
        path = folder / rel
        if not (rel in ALLOWED or rel.startswith("data/")) or ".." in Path(rel).parts:
            problems.append(f"{rel}: not a card or data file")
        elif not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif file_sha256(path) != digest:
            problems.append(f"{rel}: changed since the build")
    if "README.md" not in files or not any(r.startswith("data/") for r in files):
        problems.append("the manifest lists no card or no data files")
    if problems:
        raise BuildError(
            f"{folder} is not a complete build ({'; '.join(problems)}); rebuild it (rml-build build)"
        )
    content = manifest["content_hash"]
    stats = manifest.get("statistics", {})
    lines = [f"content hash: {content}", f"builder version: {manifest.get('builder_version')}"]
    lines += [f"{lang}: {s.get('facts')} facts, {s.get('queries')} queries" for lang, s in stats.items()]
    return UploadPlan(sorted(files) + ["manifest.json"], f"RML-LAMA {content[:16]}", "\n".join(lines))


def push(
    folder: Path,
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    revision: str | None = None,
):
    """Create the dataset repo if missing and commit the card, data and manifest; files
    under ``data/`` that the new build no longer has are deleted in the same commit."""
    import httpx2
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if "/" not in repo_id or repo_id.count("/") != 1:
        raise BuildError(f"--repo-id {repo_id!r}: expected ORG/NAME")
    folder = Path(folder)
    plan = plan_upload(folder)
    api = HfApi(endpoint=endpoint, token=token or os.environ.get("HF_TOKEN") or None)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        remote = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
        ops: list = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p in plan.files]
        ops += [
            CommitOperationDelete(path_in_repo=p)
            for p in sorted(remote)
            if p.startswith("data/") and p not in plan.files
        ]
        return api.create_commit(
            repo_id,
            ops,
            commit_message=plan.message,
            commit_description=plan.description,
            repo_type="dataset",
            revision=revision,
        )
    except HfHubHTTPError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BuildError(f"the Hub refused the push to {repo_id}: {first}") from None
    except OfflineModeIsEnabled:
        raise BuildError(
            f"cannot push to {repo_id}: HF_HUB_OFFLINE is set; unset it on a connected machine"
        ) from None
    except httpx2.TimeoutException as e:
        raise BuildError(
            f"the push to {repo_id} timed out ({type(e).__name__}) after the Hub "
            "client's retries; nothing is committed unless the Hub shows the commit "
            f"{plan.message!r}: check, then run the same command again"
        ) from None
    except (httpx2.HTTPError, OSError) as e:
        raise BuildError(
            f"cannot reach the Hub to push to {repo_id} ({type(e).__name__}: {e}); "
            "check the network (or HF_ENDPOINT) and run the same command again"
        ) from None
