"""The wrong-label detector flags a label that names another entity, and leaves the
legitimate variants alone: homonyms, exonyms, short forms, translations, transliterations."""

import pytest

from builders.build import BuildConfig, build_rows, collect_objects, collect_wrong_labels
from builders.errors import BuildError
from builders.quality import wrong_label_facts
from builders.wrong_labels import entity_labels, find_wrong_labels, listed_wrong_labels, name_key

MESSI = {"en": "Lionel Messi", "fr": "Lionel Messi", "fi": "Lionel Messi", "hu": "Lionel Messi"}


def _labels(**entities):
    return {e: dict(by_lang) for e, by_lang in entities.items()}


def test_the_label_of_another_entity_is_flagged():
    labels = _labels(
        Q615=MESSI,
        Q236804={"en": "Lionel Messi", "fr": "Beth Phoenix", "fi": "Beth Phoenix", "hu": "Beth Phoenix"},
    )
    wrong = find_wrong_labels(labels)
    assert set(wrong) == {("Q236804", "en")}
    w = wrong[("Q236804", "en")]
    assert (w.signature, w.other, w.label) == ("label_of_another_entity", "Q615", "Lionel Messi")
    assert "Q615" in w.reason and "beth phoenix" in w.reason


@pytest.mark.parametrize(
    "x, y",
    [
        # a common noun: its other labels are translations, they do not agree on a name
        (
            {"en": "heart", "fr": "cœur", "fi": "sydän", "hu": "szív"},
            {"en": "Heart", "fr": "Heart", "fi": "Heart", "hu": "Heart"},
        ),
        # an exonym no other entity carries in two languages (Pozsony for Bratislava)
        (
            {"en": "Bratislava", "fr": "Bratislava", "fi": "Bratislava", "hu": "Pozsony"},
            {"en": "Pozsony County", "fr": "Pozsony", "fi": "Pozsonyn maakunta", "hu": "Pozsony vármegye"},
        ),
        # a short form shares a word with the full name
        (
            {"en": "Gibson", "fr": "Gibson Guitar Corporation", "fi": "Gibson Guitar Corporation"},
            {"en": "Gibson", "fr": "Gibson", "hu": "Gibson"},
        ),
        # a homonym whose other labels agree with it somewhere (Georgia the country, fi)
        (
            {"en": "Georgia", "fr": "Géorgie", "fi": "Georgia", "hu": "Grúzia"},
            {"en": "Georgia", "fr": "Géorgie", "fi": "Georgia", "hu": "Georgia"},
        ),
        # a spelling variant is similar and shares no word, but the owner test fails
        (
            {"en": "Bethlehem", "fr": "Betlehem", "fi": "Betlehem", "hu": "Betlehem"},
            {"en": "Bethlehem", "fr": "Bethlehem"},
        ),
    ],
)
def test_legitimate_variants_are_not_flagged(x, y):
    assert find_wrong_labels(_labels(X=x, Y=y)) == {}


def test_accents_and_case_do_not_make_a_name_vary():
    assert name_key("Kiotó") == name_key("KIOTO") == "kioto"


def test_a_multi_part_cjk_name_shared_by_two_different_people_flags_both():
    labels = _labels(
        Q560716={"en": "Jimmy Dorsey", "fr": "Jimmy Dorsey", "ja": "スパイク・ヒューズ"},
        Q1632204={"en": "Spike Hughes", "fi": "Spike Hughes", "ja": "スパイク・ヒューズ"},
    )
    wrong = find_wrong_labels(labels)
    assert set(wrong) == {("Q560716", "ja"), ("Q1632204", "ja")}
    assert {w.signature for w in wrong.values()} == {"shared_name"}


@pytest.mark.parametrize(
    "lang, a_label, b_label, a, b",
    [
        ("ko", "본", "본", "Bonn", "Vaughan"),  # one part: a transliteration homophone
        ("ja", "バース", "パース", "Bath", "Perth"),  # kana keep their (han)dakuten
        ("ja", "ジョン・スミス", "ジョン・スミス", "John Smith", "John Smyth"),  # a shared word
    ],
)
def test_cjk_collisions_that_are_legitimate_are_not_flagged(lang, a_label, b_label, a, b):
    labels = _labels(A={"en": a, "fr": a, lang: a_label}, B={"en": b, "fr": b, lang: b_label})
    assert find_wrong_labels(labels) == {}


def test_listed_labels_apply_and_a_stale_entry_is_an_error(tmp_path):
    path = tmp_path / "wrong.yaml"
    path.write_text("- {entity: Q1, language: en, label: Ciencias, why: Spanish}\n", encoding="utf-8")
    listed = listed_wrong_labels({"Q1": {"en": "Ciencias"}}, path)
    assert listed[("Q1", "en")].signature == "listed"
    assert listed_wrong_labels({"Q2": {"en": "x"}}, path) == {}  # not in this build
    with pytest.raises(BuildError, match=r"wrong\.yaml: entry 1 \(Q1, en\).*'Scientology'"):
        listed_wrong_labels({"Q1": {"en": "Scientology"}}, path)
    path.write_text("- {entity: Q1, language: en}\n", encoding="utf-8")
    with pytest.raises(BuildError, match="entry 1 needs the text fields entity, language, label, why"):
        listed_wrong_labels({}, path)


def test_the_shipped_list_matches_the_sources(sources_dir):
    wrong = collect_wrong_labels(sources_dir, ["en", "fr", "fi", "hu", "ja"])
    assert wrong[("Q131036", "en")].signature == wrong[("Q753298", "en")].signature == "listed"
    assert wrong[("Q236804", "en")].signature == "label_of_another_entity"
    assert wrong[("Q560716", "ja")].signature == "shared_name"


def test_the_build_drops_the_fact_in_every_language_and_reports_it(sources_dir):
    cfg = BuildConfig(
        sources=sources_dir, languages=["en", "fr", "fi", "hu"], relations=["P108"], progress=False
    )
    built = build_rows(cfg)
    uuid = "55a970f1-ce99-446f-8e27-5878c51c057d"  # Beth Phoenix, en "Lionel Messi"
    for rows in built.rows.values():
        assert uuid not in {r["uuid"] for r in rows}
    [rej] = [r for r in built.rejections if r.uuid == uuid]
    assert (rej.rule, rej.language, rej.item) == ("wrong_label", "en", "Lionel Messi")
    assert wrong_label_facts(built.rows) == []


def test_the_card_measure_finds_a_wrong_label_in_rows():
    def row(uuid, lang, subject, uri, obj="WWE", obj_uri="Q35339"):
        return {
            "uuid": uuid,
            "language": lang,
            "subject": subject,
            "subject_uri": uri,
            "object": obj,
            "object_uri": obj_uri,
        }

    rows = {
        lang: [
            row("a", lang, "Lionel Messi", "Q615", "Argentina", "Q414"),
            row("b", lang, "Lionel Messi" if lang == "en" else "Beth Phoenix", "Q236804"),
        ]
        for lang in ("en", "fr", "fi", "hu")
    }
    assert wrong_label_facts(rows) == [("en", "b", "Lionel Messi")]
    assert entity_labels([("Q1", "en", "a"), ("Q1", "fr", "b")]) == {"Q1": {"en": "a", "fr": "b"}}


def test_an_object_with_a_wrong_label_is_no_valid_answer(sources_dir):
    wrong = collect_wrong_labels(sources_dir, ["en", "fr", "fi", "hu"])
    every = collect_objects(sources_dir, ["en"], ["P140"])
    kept = collect_objects(sources_dir, ["en"], ["P140"], wrong_labels=wrong)
    travolta = ("en", "P140", "Q80938")
    assert "Ciencias" in every[travolta] and "Ciencias" not in kept.get(travolta, [])
    assert sum(map(len, kept.values())) < sum(map(len, every.values()))
