"""Filling templates: the French elision and contraction step, and no change elsewhere."""

import pytest

from builders.queries import fill, fr_elision_errors, french_join, sentence


@pytest.mark.parametrize(
    "template, subject, query",
    [
        ("Le pays de [X] est [Y].", "Oufa", "Le pays d'Oufa est"),
        ("Le pays de [X] est [Y].", "Italie", "Le pays d'Italie est"),
        ("Le pays de [X] est [Y].", "Écosse", "Le pays d'Écosse est"),
        ("Le pays de [X] est [Y].", "Yémen", "Le pays de Yémen est"),  # y + vowel: a consonant
        ("Le pays de [X] est [Y].", "York", "Le pays de York est"),
        ("Le pays de [X] est [Y].", "Ypres", "Le pays d'Ypres est"),  # y + consonant: a vowel
        ("Le pays de [X] est [Y].", "Lyon", "Le pays de Lyon est"),
        ("Le pays de [X] est [Y].", "Hambourg", "Le pays de Hambourg est"),  # h: never elided
        ("Le pays de [X] est [Y].", "Le Havre", "Le pays du Havre est"),
        ("Le pays de [X] est [Y].", "Les Misérables", "Le pays des Misérables est"),
        ("Le pays de [X] est [Y].", "La Rochelle", "Le pays de La Rochelle est"),
        ("Le pays de [X] est [Y].", "L'Oréal", "Le pays de L'Oréal est"),
        ("Le siège de [X] est à [Y].", "Le Monde", "Le siège du Monde est à"),
        ("[X] se trouve à [Y].", "Oufa", "Oufa se trouve à"),
        ("Le territoire que [X] administre est [Y].", "Alger", "Le territoire qu'Alger administre est"),
        ("De [X] vient [Y].", "Italie", "D'Italie vient"),
        ("Parmi les voisins de [X] figure [Y].", "Andorre", "Parmi les voisins d'Andorre figure"),
    ],
)
def test_french_elision_and_contraction(template, subject, query):
    assert fill(template, subject, "fr") == query
    assert fr_elision_errors(query) == []


@pytest.mark.parametrize(
    "template, subject, lang, query",
    [
        ("[X], which is a subclass of [Y].", "broccoli", "en", "Broccoli, which is a subclass of"),
        ("[X] a pour capitale [Y].", "royaume d'Italie", "fr", "Royaume d'Italie a pour capitale"),
        (
            "[X] a következő nyelven jelent meg: [Y].",
            "versailles-i békeszerződés",
            "hu",
            "Versailles-i békeszerződés a következő nyelven jelent meg:",
        ),
        ("[X] was developed by [Y].", "iPhone", "en", "iPhone was developed by"),  # a capital inside
        ("[X] is owned by [Y].", "eBay Inc.", "en", "eBay Inc. is owned by"),
        ("The capital of [X] is [Y].", "royaume d'Italie", "en", "The capital of royaume d'Italie is"),
        ("[X]의 수도는 [Y].", "서울", "ko", "서울의 수도는"),
    ],
)
def test_a_label_that_opens_the_sentence_is_capitalized(template, subject, lang, query):
    assert fill(template, subject, lang) == query


def test_fill_leaves_other_languages_alone():
    assert fill("The capital of [X] is [Y].", "Oufa", "en") == "The capital of Oufa is"
    assert fill("[X]の首都は[Y]。", "日本", "ja") == "日本の首都は"
    # without a language the old behaviour: a plain replacement
    assert fill("Le pays de [X] est [Y].", "Oufa") == "Le pays de Oufa est"


def test_a_person_keeps_the_article_of_the_name():
    assert fill("La maison de disques de [X] est [Y].", "Les Paul", "fr", person=True) == (
        "La maison de disques de Les Paul est"
    )
    no_person = fill("La maison de disques de [X] est [Y].", "Les Paul", "fr")
    assert no_person == "La maison de disques des Paul est"
    assert fill("Le pays de [X] est [Y].", "Oufa", "fr", person=True) == "Le pays d'Oufa est"  # elision stays


def test_person_relations_are_those_whose_subject_is_a_person():
    from builders.build import PERSON_SUBJECTS

    assert {"P19", "P20", "P106", "P264", "P413", "P1303"} <= PERSON_SUBJECTS
    assert not {"P36", "P17", "P136", "P407"} & PERSON_SUBJECTS


def test_sentence_uses_the_same_join():
    assert sentence("La capitale de [X] est [Y].", "Italie", "Rome", "fr") == "La capitale d'Italie est Rome."


def test_french_join_only_touches_the_last_word():
    assert french_join("Il est de ", "Orléans") == "Il est d'Orléans"
    assert french_join("Il est dans ", "Orléans") == "Il est dans Orléans"
    assert french_join("", "Orléans") == "Orléans"


def test_elision_errors_are_found():
    assert fr_elision_errors("Le pays de Oufa est") == ["de O"]
    assert fr_elision_errors("Le pays de Le Havre est") == ["de Le"]
    assert fr_elision_errors("Le pays d'Oufa est") == []
