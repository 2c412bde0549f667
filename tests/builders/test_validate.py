"""Each validation rule, accepting and rejecting."""

import pytest

from builders.validate import (
    check_base_form,
    check_french,
    check_language,
    check_length,
    check_placeholders,
    check_query,
    check_y_final,
    clean_whitespace,
    find_duplicates,
    find_shared,
    leaks,
    normalize,
    validate_template,
)


@pytest.mark.parametrize("t", ["[X] was born in [Y].", "[X]の首都は[Y]。", "[Y] [X]"])
def test_placeholders_accepts_one_of_each(t):
    assert check_placeholders(t, "en") is None


@pytest.mark.parametrize(
    "t, needle",
    [
        ("[X] was born in.", "[Y]×0"),
        ("[X] and [X] are [Y].", "[X]×2"),
        ("[X] is [Y] or [Y].", "[Y]×2"),
        ("[X] is [Z] of [Y].", "other than"),
    ],
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
    [
        ("The capital of [X] is [Y].", "en"),
        ("La capitale de [X] est [Y].", "fr"),
        ("[X]:n pääkaupunki on [Y].", "fi"),
        ("[X] fővárosa [Y].", "hu"),
        ("[X]的首都是[Y]。", "zh"),
        ("[X]の首都は[Y]。", "ja"),
        ("[X]의 수도는 [Y].", "ko"),
    ],
)
def test_language_accepts_its_language(t, lang):
    assert check_language(t, lang) is None


@pytest.mark.parametrize(
    "t, lang, found",
    [
        ("The capital of [X] is [Y].", "fi", "en"),
        ("[X]的首都是[Y]。", "ja", "zh"),
        ("[X]의 수도는 [Y].", "zh", "ko"),
    ],
)
def test_language_rejects_another_language(t, lang, found):
    reason = check_language(t, lang)
    assert reason is not None and f"identified as {found}" in reason


def test_duplicates_after_normalization():
    ts = ["The capital of [X] is [Y].", "the capital of  [X] is [Y] .", "[X]'s capital is [Y]."]
    assert find_duplicates(ts) == {1: 0}
    assert normalize("[X]: n on [Y].") == normalize("[X]:n on [Y]")
    assert clean_whitespace("[X] was born in [Y] .") == "[X] was born in [Y]."


def test_object_leak_at_word_start_in_spaced_languages():
    assert leaks("Baghdad", "Baghdad Governorate's capital is", "en")
    assert leaks("Bag", "Baghdad Governorate's capital is", "en")  # a prefix of a word
    assert not leaks("dad", "Baghdad Governorate's capital is", "en")  # not at a word start
    assert leaks("東京", "東京都の首都は", "ja")  # unspaced: any substring
    assert check_query("Paris is the capital of", "Paris", "France", "en") is None
    assert check_query("France and France is", "Lyon", "France", "en")[0] == "object_leak"


def test_query_empty_and_too_long():
    assert check_query("Paris", "Paris", "France", "en")[0] == "empty"
    assert check_query("x" * 400, "Paris", "France", "en")[0] == "too_long"


def test_validate_template_stops_after_bad_placeholders():
    assert [r for r, _ in validate_template("no placeholders here", "en")] == ["placeholders"]
    assert validate_template("The official language of [X] is [Y].", "en") == []


# -- base form (fi, hu) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "t",
    [
        "[X]:n pääkaupunki on [Y].",
        "Yksi [X]:n naapureista on [Y].",
        "[X]-ban született [Y].",
        "[X] on maa, jonka pääkaupunki on [Y]:ssä.",
    ],
)
def test_base_form_rejects_glued_endings(t):
    assert check_base_form(t, "fi") is not None
    assert check_base_form(t, "hu") is not None


@pytest.mark.parametrize(
    "t",
    [
        "[X] on maa, jonka pääkaupunki on [Y].",
        "Paikka, jossa [X] syntyi, on [Y].",
        "[X] fővárosa [Y].",
        "[X] a következő helyen született: [Y].",
    ],
)
def test_base_form_accepts_nominative_constructions(t):
    assert check_base_form(t, "fi") is None


def test_base_form_applies_to_fi_and_hu_only():
    assert check_base_form("[X]'s capital is [Y].", "en") is None
    assert check_base_form("[X]의 수도는 [Y].", "ko") is None


# -- French -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "t, needle",
    [
        ("Le pays de [X] est celui de [Y].", "elide"),
        ("[X] est une ville que [Y].", "elide"),
        ("[X] est développé par [Y].", "agree"),
        ("[X] a été écrit en [Y].", "agree"),
        ("[X] est née à [Y].", "agree"),
    ],
)
def test_french_rejects_elision_before_y_and_agreement(t, needle):
    reason = check_french(t, "fr")
    assert reason is not None and needle in reason


@pytest.mark.parametrize(
    "t",
    [
        "La capitale de [X] est [Y].",
        "[X] a pour capitale [Y].",
        "Le siège de [X] est situé à [Y].",
        "La ville de [X] est jumelée avec [Y].",
        "[X] se trouve en [Y].",
        "[X] se trouve dans le pays suivant : [Y].",
    ],
)
def test_french_accepts_agreement_free_templates(t):
    assert check_french(t, "fr") is None


def test_french_rule_is_for_french_only():
    assert check_french("[X] est développé par [Y].", "en") is None


# -- one template text per relation ------------------------------------------------------------


def test_shared_template_names_both_relations():
    out = find_shared(
        [
            ("en", "P17", "[X] is located in [Y]."),
            ("en", "P131", "[X] is located in [Y] ."),
            ("fr", "P17", "[X] is located in [Y]."),
            ("en", "P17", "[X] is in [Y]."),
        ]
    )
    assert len(out) == 1 and "P17 and P131" in out[0] and out[0].startswith("en:")
    # the same text twice in one relation is the duplicate rule's business, not this one's
    assert find_shared([("en", "P17", "[X] is in [Y]."), ("en", "P17", "[X] is in [Y].")]) == []


def test_bank_has_no_shared_template():
    from builders.bank import load_bank
    from rml_lama import LANGUAGE_CODES

    items = [
        (lang, rel, t.template) for lang in LANGUAGE_CODES for rel, ts in load_bank(lang).items() for t in ts
    ]
    assert find_shared(items) == []


# -- the leak rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, query, lang",
    [
        ("살인", "살인의 상위 개념은", "ko"),  # a particle attached to the object
        ("Northampton", "Northamptonshire is located in", "en"),  # a longer name
        ("Apple", "AppleTalk was developed by", "en"),
        ("Budapest", "Budapesten született", "hu"),  # a case ending
        ("Suomi", "Suomi-neito on", "fi"),
        ("マイクロソフト", "マイクロソフトオフィスの開発元は", "ja"),
    ],
)
def test_leak_rule_sees_suffixes_particles_and_compounds(obj, query, lang):
    assert leaks(obj, query, lang)


def test_leak_rule_short_labels_match_whole_words_only():
    assert not leaks("C", "Carl is a programmer in", "en")
    assert leaks("C", "The C language was written in", "en")


def test_check_query_cross_script_and_other_objects():
    # the Latin label of the object inside a Japanese query
    q = "Microsoft Windowsの開発元は"
    assert check_query(q, "Microsoft Windows", "マイクロソフト", "ja") is None  # the ja label alone
    bad = check_query(q, "Microsoft Windows", "マイクロソフト", "ja", also=("Microsoft",))
    assert bad[0] == "object_leak" and "Microsoft" in bad[1]
    # another valid object of the fact
    assert check_query("France and Spain share", "France", "Italy", "en", also=("Spain",))[0] == "object_leak"


def test_subject_equal_to_object_is_rejected():
    assert check_query("Mars is named after", "Mars", "mars", "en")[0] == "subject_is_object"
