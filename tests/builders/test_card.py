"""The card's metadata check: what the Hub's dataset card conventions require."""

from pathlib import Path

from builders.card import check_card

GOOD = """---
license: cc-by-nc-4.0
pretty_name: Demo
language:
- en
- fi
multilinguality: multilingual
task_categories:
- fill-mask
size_categories:
- 1K<n<10K
source_datasets:
- extended|cis-lmu/m_lama
configs:
- config_name: en
  data_files:
  - split: test
    path: data/en/*.parquet
  default: true
---
# Demo
"""


def test_a_conventional_card_passes(tmp_path: Path):
    (tmp_path / "data" / "en").mkdir(parents=True)
    (tmp_path / "data" / "en" / "test.parquet").write_bytes(b"")
    assert check_card(GOOD, tmp_path, ("en", "fi")) == []


def test_each_breach_is_named(tmp_path: Path):
    bad = (
        GOOD.replace("1K<n<10K", "about 5000")
        .replace("extended|cis-lmu/m_lama", "extended|m lama")
        .replace("- fill-mask", "- probing")
        .replace("- fi\n", "- finnish\n")
        .replace("pretty_name: Demo\n", "")
    )
    problems = "\n".join(check_card(bad, tmp_path, ("en", "ko")))
    for needle in (
        "size_categories 'about 5000'",
        "source_datasets 'extended|m lama'",
        "task_categories 'probing'",
        "language 'finnish' is not an ISO 639-1",
        "language lacks ko",
        "'pretty_name' is missing",
        "matches no file",
    ):
        assert needle in problems, needle


def test_unparsable_metadata_is_one_clear_problem():
    out = check_card("---\nlicense: [unclosed\n---\n# x\n")
    assert len(out) == 1 and "does not parse" in out[0]
