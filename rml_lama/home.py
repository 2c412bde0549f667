"""Where the built dataset lives, and where it comes from.

The dataset is data, not code: ``rml-build build`` writes it, and :func:`rml_lama.load`
reads it, from one folder chosen in this order:

1. ``$RML_LAMA_DATA``, when set;
2. in a source checkout (this package beside the repository's ``pyproject.toml``; an
   editable install is one), the package folder itself, ``<repo>/rml_lama/``: the design
   promises that ``load_dataset("rml_lama", "fi")`` works from the repository root, and
   ``datasets`` finds a local folder by that name;
3. otherwise (an installed wheel), ``<cache>/dataset``, where ``<cache>`` is
   ``$RML_LAMA_CACHE``, else ``$XDG_CACHE_HOME/rml_lama`` or ``~/.cache/rml_lama`` (the
   root under which the tiny models are cached, too).

Nothing is ever written into ``site-packages``: :func:`check_writable_home` refuses such a
folder. The published copy on the Hugging Face Hub is :data:`HUB_REPO_ID` (the one place
it is named); ``rml_lama.load("fi", repo_id=HUB_REPO_ID)`` reads it through the Hub cache.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

# The Hub dataset repository that `rml-build push` publishes to and `load(repo_id=...)` reads
# by default. Not published yet: the first `rml-build push` creates it.
HUB_REPO_ID = "rml-lama/rml-lama"

DATA_ENV = "RML_LAMA_DATA"
CACHE_ENV = "RML_LAMA_CACHE"
PACKAGE_DIR = Path(__file__).resolve().parent


def cache_root() -> Path:
    """The rml_lama cache folder (not created): models, sources, and a wheel's dataset."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rml_lama"


def in_checkout(package_dir: Path = PACKAGE_DIR) -> bool:
    """True when ``package_dir`` is the ``rml_lama/`` folder of a source checkout."""
    if _in_site_packages(package_dir):
        return False
    pyproject = package_dir.parent / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return False
    return 'name = "rml-lama"' in text and (package_dir.parent / "builders").is_dir()


def dataset_dir() -> Path:
    """The folder of the built dataset (card, ``data/``, manifest), built or not."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    if in_checkout():
        return PACKAGE_DIR
    return cache_root() / "dataset"


def is_built(folder: Path, language: str | None = None) -> bool:
    folder = Path(folder)
    data = folder / "data" / language if language else folder / "data"
    return (folder / "README.md").is_file() and data.is_dir()


def _site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    return [Path(paths[k]).resolve() for k in ("purelib", "platlib") if k in paths]


def _in_site_packages(path: Path) -> bool:
    path = Path(path).resolve()
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    return any(path == d or d in path.parents for d in _site_dirs())


def check_writable_home(folder: Path, option: str = "--out") -> Path:
    """``folder`` if a dataset may be written there; a one-line error for site-packages."""
    if _in_site_packages(folder):
        raise ValueError(
            f"{option} {folder}: is inside site-packages, where installed code lives and data "
            f"must not go; choose another folder, or leave {option} out to use {DATA_ENV} or "
            f"{cache_root() / 'dataset'}"
        )
    return Path(folder)


def not_built_message(folder: Path, language: str | None = None) -> str:
    what = f"data/{language}/ or README.md" if language else "data/ or README.md"
    return (
        f"RML-LAMA is not built in {folder} (no {what}); build it with `rml-build build "
        f"--sources DIR` (it writes there; ${DATA_ENV} chooses another folder), or read the "
        f"published copy with rml_lama.load(LANG, repo_id={HUB_REPO_ID!r})"
    )
