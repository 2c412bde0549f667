"""The measures written into the card find what they count, and only that."""

from builders.quality import fi_colon_endings, fr_elision, leaking_facts, measure, zh_traditional


def _row(queries, subject="S", obj="O", objects=None, uuid="u", lang="en"):
    return {
        "uuid": uuid,
        "language": lang,
        "subject": subject,
        "object": obj,
        "objects": objects or [obj],
        "queries": queries,
        "templates": ["[X] [Y]"] * len(queries),
    }


def test_fi_colon_after_a_plain_word_is_counted():
    rows = [
        _row(["Ukraina:n pääkaupunki on"]),
        _row(["EU:n jäsen on", "Kaarle XII:n isä on", "3:nnen kerroksen", "Ukraina on maa, jonka"]),
    ]
    assert fi_colon_endings(rows) == ["Ukraina:n pääkaupunki on"]


def test_fr_missing_elision_outside_the_label_is_counted():
    rows = [
        _row(["Le pays de Oufa est"], subject="Oufa"),
        _row(["Le pays d'Oufa est"], subject="Oufa"),
        _row(["Le pays de Le Havre est"], subject="Le Havre"),
        _row(["La capitale de Côte de Ivoire est"], subject="Côte de Ivoire"),
    ]  # inside the label
    assert fr_elision(rows) == ["Le pays de Oufa est", "Le pays de Le Havre est"]
    # a person's name keeps its article: "de Les Paul" is right, "des Paul" would be wrong
    person = {**_row(["La maison de disques de Les Paul est"], subject="Les Paul"), "relation": "P264"}
    assert fr_elision([person]) == []


def test_zh_traditional_labels_are_counted():
    rows = [
        _row(["台湾的首都是"], subject="臺灣", obj="台北", lang="zh"),
        _row([], subject="台湾", obj="台北"),
    ]
    assert zh_traditional(rows) == ["臺灣"]


def test_leaks_across_languages_and_valid_objects():
    rows = {
        "en": [
            _row(["AppleTalk was developed by"], subject="AppleTalk", obj="Apple", uuid="a"),
            _row(
                ["Austria borders"], subject="Austria", obj="Germany", objects=["Germany", "Italy"], uuid="b"
            ),
        ],
        "ja": [
            _row(
                ["Microsoft Windowsの開発元は"],
                subject="Microsoft Windows",
                obj="マイクロソフト",
                uuid="c",
                lang="ja",
            )
        ],
        "fr": [_row(["Windows est développé par"], subject="Windows", obj="Microsoft", uuid="c", lang="fr")],
    }
    found = {(lang, u) for lang, u, _ in leaking_facts(rows)}
    assert found == {("en", "a"), ("ja", "c")}
    m = measure(rows)
    assert m["leaking_facts"] == 2 and m["rows_with_objects"] == m["rows"] == 4
