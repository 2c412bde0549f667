"""rml_lama.atomic_write (the one atomic file write) and rml_lama.dataset_hash (the one
dataset hash)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from rml_lama import dataset_hash
from rml_lama.atomic import atomic_write


def test_atomic_write_bytes_text_and_writer(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b.txt"
    assert atomic_write(p, "é\n") == p and p.read_bytes() == "é\n".encode()
    atomic_write(p, b"\x00\x01", durable=True)
    assert p.read_bytes() == b"\x00\x01"
    atomic_write(p, lambda tmp: tmp.write_text("from a writer"))
    assert p.read_text() == "from a writer"
    assert [q.name for q in p.parent.iterdir()] == ["b.txt"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask  # as a plain open() would make it


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    atomic_write(p, "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(p, broken)
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["x.json"]


def test_dataset_hash_reads_the_manifest_else_hashes_the_parquet_files(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"content_hash": "c" * 64, "hash": "other"}))
    assert dataset_hash(tmp_path) == "c" * 64
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="no built dataset in"):
        dataset_hash(tmp_path)
    (tmp_path / "data" / "fi").mkdir(parents=True)
    (tmp_path / "data" / "fi" / "test.parquet").write_bytes(b"pq")
    want = hashlib.sha256(b"data/fi/test.parquet" + b"pq").hexdigest()
    assert dataset_hash(tmp_path) == f"sha256:{want}"
    assert dataset_hash(str(tmp_path / "no-such-folder")) == f"hub:{tmp_path / 'no-such-folder'}"
    assert dataset_hash("org/rml-lama") == "hub:org/rml-lama"
