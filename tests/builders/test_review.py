"""The seeded re-read sample: reproducible, one query per relation, the same fact everywhere."""

from builders.review import sample, to_markdown


def _rows():
    rows = {}
    for lang in ("en", "fi"):
        rows[lang] = [
            {
                "uuid": f"{rel}-{i}",
                "relation": rel,
                "subject": f"S{i}",
                "object": "O",
                "templates": [f"[X] {lang} {k} [Y]." for k in range(3)],
                "queries": [f"S{i} {lang} {k}" for k in range(3)],
            }
            for rel in ("P17", "P19", "P36", "P1376")
            for i in range(5)
        ]
    return rows


def test_sample_is_seeded_and_one_per_relation():
    rows = _rows()
    a, b = sample(rows, seed=3, per_language=3), sample(rows, seed=3, per_language=3)
    assert a == b and len(a) == 6
    for lang in ("en", "fi"):
        mine = [x for x in a if x["language"] == lang]
        assert len({x["relation"] for x in mine}) == 3
        assert all(x["query"].startswith(x["subject"]) and f" {lang} " in x["query"] for x in mine)
    # the same fact of a relation in every language
    assert [x["uuid"] for x in a[:3]] == [x["uuid"] for x in a[3:]]
    assert sample(rows, seed=4, per_language=3) != a or sample(rows, seed=5, per_language=3) != a


def test_markdown_has_a_table_per_language():
    text = to_markdown(sample(_rows(), seed=0, per_language=2))
    assert text.count("| relation | query | object | grade |") == 2 and "### fi" in text
