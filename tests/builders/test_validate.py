"""Each validation rule, accepting and rejecting."""

import pytest

from builders.validate import (
    check_language,
    check_length,
    check_placeholders,
    check_query,
    check_y_final,
    clean_whitespace,
    find_duplicates,
    leaks,
    normalize,
    validate_template,
)


@pytest.mark.parametrize("t", ["[X] was born in [Y].", "[X]の首都は[Y]。", "[Y] [X]"])
def test_placeholders_accepts_one_of_each(t):
    assert check_placeholders(t, "en") is None


@pytest.mark.parametrize(
    "t, needle",
    [("[X] was born in.", "[Y]×0"), ("[X] and [X] are [Y].", "[X]×2"),
     ("[X] is [Y] or [Y].", "[Y]×2"), ("[X] is [Z] of [Y].", "other than")],
)
def test_placeholders_rejects(t, needle):
    reason = check_placeholders(t, "en")
    assert reason is not None and needle in reason


@pytest.mark.parametrize("t", ["[X] is [Y]", "[X] is [Y].", "[X]は[Y]。", "Is [X] in [Y] ?"])
def test_y_final_accepts_trailing_punctuation(t):
    assert check_y_final(t, "en") is None


@pytest.mark.parametrize("t", ["[X]は[Y]です。", "[Y] is the capital of [X].", "[X] is [Y] citizen."])
def test_y_final_rejects_text_after_y(t):
    assert "must be last" in check_y_final(t, "en")


def test_length_rules():
    assert check_length("[X] [Y].", "en") is not None
    assert check_length("[X] is " + "very " * 40 + "[Y].", "en") is not None
    assert check_length("[X] is [Y].", "en") is None


@pytest.mark.parametrize(
    "t, lang",
    [("The capital of [X] is [Y].", "en"), ("La capitale de [X] est [Y].", "fr"),
     ("[X]:n pääkaupunki on [Y].", "fi"), ("[X] fővárosa [Y].", "hu"),
     ("[X]的首都是[Y]。", "zh"), ("[X]の首都は[Y]。", "ja"), ("[X]의 수도는 [Y].", "ko")],
)
def test_language_accepts_its_language(t, lang):
    assert check_language(t, lang) is None


@pytest.mark.parametrize(
    "t, lang, found",
    [("The capital of [X] is [Y].", "fi", "en"), ("[X]的首都是[Y]。", "ja", "zh"),
     ("[X]의 수도는 [Y].", "zh", "ko")],
)
def test_language_rejects_another_language(t, lang, found):
    reason = check_language(t, lang)
    assert reason is not None and f"identified as {found}" in reason


def test_duplicates_after_normalization():
    ts = ["The capital of [X] is [Y].", "the capital of  [X] is [Y] .", "[X]'s capital is [Y]."]
    assert find_duplicates(ts) == {1: 0}
    assert normalize("[X]: n on [Y].") == normalize("[X]:n on [Y]")
    assert clean_whitespace("[X] was born in [Y] .") == "[X] was born in [Y]."


def test_object_leak_whole_words_in_spaced_languages():
    assert leaks("Baghdad", "Baghdad Governorate's capital is", "en")
    assert not leaks("Bag", "Baghdad Governorate's capital is", "en")
    assert leaks("東京", "東京都の首都は", "ja")  # unspaced: any substring
    assert check_query("Paris is the capital of", "Paris", "France", "en") is None
    assert check_query("France and France is", "Lyon", "France", "en")[0] == "object_leak"


def test_query_empty_and_too_long():
    assert check_query("Paris", "Paris", "France", "en")[0] == "empty"
    assert check_query("x" * 400, "Paris", "France", "en")[0] == "too_long"


def test_validate_template_stops_after_bad_placeholders():
    assert [r for r, _ in validate_template("no placeholders here", "en")] == ["placeholders"]
    assert validate_template("The official language of [X] is [Y].", "en") == []
