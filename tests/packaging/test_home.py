"""Where the dataset lives (rml_lama.home), and the session's own Hugging Face caches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import datasets
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rml_lama
from rml_lama import home

REPO = Path(__file__).resolve().parents[2]


def _tiny_dataset(folder: Path, rows: int = 3) -> Path:
    """A folder that loads like a built RML-LAMA: a card declaring config fi, one parquet."""
    (folder / "data" / "fi").mkdir(parents=True)
    table = pa.table({"uuid": [f"u{i}" for i in range(rows)], "relation": ["P36"] * rows})
    pq.write_table(table, folder / "data" / "fi" / "test.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: fi\n  data_files:\n  - split: test\n"
        "    path: data/fi/*.parquet\n---\n",
        encoding="utf-8",
    )
    return folder


def _run(code: str, env: dict, cwd: Path) -> str:
    full = {k: v for k, v in os.environ.items() if k not in (home.DATA_ENV, home.CACHE_ENV)}
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_checkout_home_is_the_package_folder():
    assert home.in_checkout()
    assert home.PACKAGE_DIR == REPO / "rml_lama"
    assert os.environ.get(home.DATA_ENV) or rml_lama.DATASET_DIR == REPO / "rml_lama"


def test_a_package_outside_a_checkout_uses_the_cache(tmp_path):
    site = tmp_path / "lib" / "site-packages" / "rml_lama"
    site.mkdir(parents=True)
    (site.parent / "pyproject.toml").write_text('name = "rml-lama"\n')  # even with one beside it
    assert not home.in_checkout(site)
    plain = tmp_path / "plain" / "rml_lama"
    plain.mkdir(parents=True)
    assert not home.in_checkout(plain)  # no pyproject.toml beside it


def test_data_env_and_cache_env_choose_the_folder(tmp_path):
    code = "import rml_lama; print(rml_lama.DATASET_DIR)"
    assert _run(code, {home.DATA_ENV: str(tmp_path / "d"), "PYTHONPATH": str(REPO)}, tmp_path) == str(
        tmp_path / "d"
    )
    # a wheel's package: the same module files outside a checkout
    import shutil

    pkg = tmp_path / "site-packages" / "rml_lama"
    shutil.copytree(REPO / "rml_lama", pkg, ignore=shutil.ignore_patterns("data", "*.json*", "README.md"))
    env = {home.CACHE_ENV: str(tmp_path / "cache"), "PYTHONPATH": str(pkg.parent)}
    assert _run(code, env, tmp_path) == str(tmp_path / "cache" / "dataset")


def test_load_reads_a_built_folder_and_explains_a_missing_one(tmp_path):
    folder = _tiny_dataset(tmp_path / "ds")
    assert len(rml_lama.load("fi", folder)) == 3
    with pytest.raises(FileNotFoundError, match=r"not built in .*empty.*rml-build build"):
        rml_lama.load("fi", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"no data/en/"):
        rml_lama.load("en", folder)
    with pytest.raises(ValueError, match="path or repo_id"):
        rml_lama.load("fi", folder, repo_id=rml_lama.HUB_REPO_ID)


def test_no_dataset_is_written_into_site_packages(tmp_path):
    import sysconfig

    from builders.build import BuildConfig
    from builders.write import write_dataset

    purelib = Path(sysconfig.get_paths()["purelib"])
    with pytest.raises(ValueError, match=r"--out .*site-packages.*RML_LAMA_DATA"):
        write_dataset(None, BuildConfig(sources=tmp_path, out=purelib / "rml_lama"))
    assert not (purelib / "rml_lama" / "data").exists()
    with pytest.raises(ValueError, match="site-packages"):
        home.check_writable_home(tmp_path / "venv" / "lib" / "site-packages" / "x")
    assert home.check_writable_home(tmp_path / "ds") == tmp_path / "ds"


def test_the_hub_repo_id_is_named_in_one_place():
    hits = []
    for folder in ("rml_lama", "builders", "harness"):
        for path in (REPO / folder).rglob("*.py"):
            if f'"{rml_lama.HUB_REPO_ID}"' in path.read_text(encoding="utf-8"):  # as a literal
                hits.append(path.relative_to(REPO).as_posix())
    assert hits == ["rml_lama/home.py"]


# -- the session's own Hugging Face caches (tests/conftest.py) ------------------------------


def _user_datasets_cache(env: dict) -> Path:
    if env["HF_DATASETS_CACHE"]:  # the user's own setting wins over HF_HOME
        return Path(env["HF_DATASETS_CACHE"])
    hf_home = env["HF_HOME"] or os.path.join(
        env["XDG_CACHE_HOME"] or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home) / "datasets"


def _listing(folder: Path) -> dict[str, float]:
    if not folder.is_dir():
        return {}
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def test_the_session_uses_its_own_hf_caches(tmp_path, monkeypatch, hf_isolation):
    HF_TEST_HOME, user_env = hf_isolation
    assert Path(datasets.config.HF_DATASETS_CACHE).is_relative_to(HF_TEST_HOME)
    assert Path(huggingface_hub.constants.HF_HUB_CACHE).is_relative_to(HF_TEST_HOME)
    assert Path(huggingface_hub.constants.HF_HOME).is_relative_to(HF_TEST_HOME)
    user = _user_datasets_cache(user_env)
    assert not user.resolve().is_relative_to(HF_TEST_HOME.resolve())
    before = _listing(user)
    # the case that used to poison the user's cache: a folder named rml_lama, loaded by name
    _tiny_dataset(tmp_path / "rml_lama", rows=5)
    monkeypatch.chdir(tmp_path)
    ds = datasets.load_dataset("rml_lama", "fi", split="test")
    assert len(ds) == 5
    assert ds.cache_files and all(Path(f["filename"]).is_relative_to(HF_TEST_HOME) for f in ds.cache_files)
    assert _listing(user) == before
