"""Where built models live, and how a build is keyed and written.

The cache root is ``$RML_LAMA_CACHE`` if set, else ``$XDG_CACHE_HOME/rml_lama`` or
``~/.cache/rml_lama``; models go under ``<root>/models/<name>-<hash>``. The hash covers the
dataset (the content hash in the builder's ``manifest.json``, or the parquet files
themselves) and the training config, so a new dataset or config gives a new folder.
A folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CACHE_ENV = "RML_LAMA_CACHE"


def cache_root() -> Path:
    """The rml_lama cache folder (not created); one definition, in :mod:`rml_lama.home`."""
    from rml_lama.home import cache_root as root

    return root()


def models_dir() -> Path:
    return cache_root() / "models"


def config_hash(*parts: Any) -> str:
    """A short stable hash of JSON-serializable parts (configs, dataset hash, versions)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``final``; rename it to ``final`` when the block ends.

    An existing ``final`` (a forced rebuild) is replaced; on an error the temporary folder
    is removed and ``final`` is left as it was.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    old = tmp.with_name(tmp.name + "-old")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a cache folder is not
    try:
        yield tmp
        if final.exists():
            os.rename(final, old)
        os.rename(tmp, final)
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def atomic_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
