"""Dataset rows become cloze queries whose other valid objects count as correct answers."""

from harness.data import alternatives, row_queries


def test_row_queries_carry_the_other_valid_objects():
    row = {
        "language": "en",
        "object": "Germany",
        "objects": ["Germany", "France", "Poland"],
        "templates": ["[X] borders [Y].", "[X] shares a border with [Y]."],
        "queries": ["Austria borders", "Austria shares a border with"],
    }
    qs = row_queries(row)
    assert [q.answer for q in qs] == ["Germany", "Germany"]  # the target stays `object`
    assert all(q.alternatives == ("France", "Poland") for q in qs)
    assert qs[0].suffix == "." and qs[0].space


def test_rows_without_objects_have_no_alternatives():
    assert alternatives({"object": "Paris"}) == ()
    assert alternatives({"object": "Paris", "objects": None}) == ()
    assert alternatives({"object": "Paris", "objects": ["Paris"]}) == ()
