"""``rml_lama.load`` returns what is on disk now: a rebuilt folder (or another folder of the
same name) is never answered from a stale ``datasets`` cache."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rml_lama
from harness.data import FactPool
from rml_lama.schema import FEATURES

CARD = "---\nconfigs:\n- config_name: fi\n  data_files:\n  - split: test\n    path: data/fi/*.parquet\n---\n"


def _row(i: int, obj: str) -> dict:
    return {
        "uuid": f"u{i}",
        "relation": "P36",
        "subject": f"S{i}",
        "subject_uri": f"Q{i}",
        "object": obj,
        "object_uri": "Q1",
        "objects": [obj],
        "subject_mlama": f"S{i}",
        "object_mlama": obj,
        "language": "fi",
        "templates": ["[X] on [Y]."],
        "queries": [f"S{i} on"],
        "template_origins": ["curated"],
    }


def _write(folder: Path, rows: int, obj: str, name: str = "test.parquet") -> None:
    """Write (or rewrite) config fi of a folder that looks like a built RML-LAMA."""
    (folder / "data" / "fi").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(CARD, encoding="utf-8")
    table = pa.Table.from_pylist([_row(i, obj) for i in range(rows)], schema=FEATURES.arrow_schema)
    pq.write_table(table, folder / "data" / "fi" / name)


def test_a_rewritten_folder_loads_its_new_rows(tmp_path):
    folder = tmp_path / "rml_lama"
    _write(folder, rows=3, obj="Helsinki")
    first = rml_lama.load("fi", folder)
    assert len(first) == 3 and first[0]["object"] == "Helsinki"
    _write(folder, rows=5, obj="Turku")  # a rebuild: same names, other content
    again = rml_lama.load("fi", folder)
    assert len(again) == 5 and {r["object"] for r in again} == {"Turku"}
    assert again.features == FEATURES and str(again.split) == "test"


def test_two_folders_of_the_same_name_do_not_share_rows(tmp_path):
    a, b = tmp_path / "a" / "rml_lama", tmp_path / "b" / "rml_lama"
    _write(a, rows=2, obj="Oulu")
    _write(b, rows=4, obj="Vaasa")
    assert [r["object"] for r in rml_lama.load("fi", a)] == ["Oulu"] * 2
    assert [r["object"] for r in rml_lama.load("fi", b)] == ["Vaasa"] * 4


def test_the_fact_pool_sees_the_rewrite(tmp_path):
    folder = tmp_path / "rml_lama"
    _write(folder, rows=3, obj="Helsinki")
    assert len(FactPool(folder).facts(["fi"])) == 3
    _write(folder, rows=5, obj="Turku")
    facts = FactPool(folder).facts(["fi"])
    assert len(facts) == 5 and {f.objects["fi"] for f in facts.values()} == {"Turku"}


def test_every_file_the_card_declares_is_read_in_order(tmp_path):
    folder = tmp_path / "ds"
    _write(folder, rows=2, obj="A", name="test-00000.parquet")
    _write(folder, rows=3, obj="B", name="test-00001.parquet")
    assert [r["object"] for r in rml_lama.load("fi", folder)] == ["A", "A", "B", "B", "B"]


def test_a_card_whose_files_are_missing_is_a_clear_error(tmp_path):
    folder = tmp_path / "ds"
    _write(folder, rows=1, obj="A")
    (folder / "data" / "fi" / "test.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"no parquet file for config 'fi'.*data/fi/\*\.parquet"):
        rml_lama.load("fi", folder)
