"""The wheel, as a new user gets it: built from the tracked files, installed into a fresh
venv with no checkout in sight, it builds the dataset into the user cache and loads it;
nothing lands in site-packages.

Nothing is downloaded: the wheel is built without isolation (setuptools of this venv) and
installed with --no-deps; the fresh venv sees this venv's libraries through a .pth line,
which adds their folder to sys.path without running this venv's editable-install hooks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    assert out.returncode == 0, f"{args}\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out


def _copy_tracked(dest: Path) -> None:
    """The files git would ship (tracked, or new and not ignored): no build outputs."""
    listed = _run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    ).stdout.split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_wheel_builds_and_loads_the_dataset_outside_site_packages(tmp_path, sources_dir):
    if shutil.which("git") is None:
        pytest.skip("needs git to list the tracked files")
    src, dist, venv, cache = (tmp_path / n for n in ("src", "dist", "venv", "cache"))
    _copy_tracked(src)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(src),
        ]
    )
    wheel = next(dist.glob("rml_lama-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "rml_lama/__init__.py" in names and "builders/bank/en.yaml" in names
    assert not [n for n in names if n.endswith((".parquet", "manifest.json"))]

    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    # Without the caller's PYTHONPATH: a checkout on it (with its egg-info) makes pip think the
    # package is already installed, and it installs nothing.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RML_LAMA_DATA", "VIRTUAL_ENV")}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        env=env,
    )
    site = Path(
        _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    (site / "shared-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env["RML_LAMA_CACHE"] = str(cache)
    work = tmp_path / "elsewhere"  # no checkout in the working folder either
    work.mkdir()
    built = _run(
        [
            str(venv / "bin" / "rml-build"),
            "build",
            "--sources",
            str(sources_dir),
            "--languages",
            "en,fi",
            "--relations",
            "P36,P37,P19",
            "--max-facts",
            "20",
        ],
        env=env,
        cwd=work,
    )
    assert str(cache / "dataset") in built.stdout
    code = (
        "import rml_lama; print(len(rml_lama.load('fi'))); print(rml_lama.DATASET_DIR); "
        "print(rml_lama.__file__)"
    )
    lines = _run([str(py), "-c", code], env=env, cwd=work).stdout.strip().splitlines()
    manifest = json.loads((cache / "dataset" / "manifest.json").read_text())
    assert int(lines[0]) == manifest["statistics"]["fi"]["facts"] > 0
    assert lines[1] == str(cache / "dataset")
    assert Path(lines[2]).is_relative_to(site)  # the wheel's copy, not the checkout's

    leaked = [
        p
        for p in site.rglob("*")
        if p.suffix in (".parquet", ".jsonl")
        or p.name == "manifest.json"
        or (p.name == "README.md" and p.parent.name == "rml_lama")
    ]
    assert leaked == []
    version = _run([str(venv / "bin" / "rml-eval"), "--version"], env=env, cwd=work).stdout
    expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert version.splitlines()[0] == f"rml-eval {expected}"  # no checkout: no commit named
