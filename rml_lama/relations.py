"""The 41 T-REx relations of mLAMA that RML-LAMA covers, with their Wikidata meaning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    id: str  # Wikidata property id
    label: str  # Wikidata label
    meaning: str  # what [X] and [Y] are, in one sentence (used in prompts and the card)


_TABLE = [
    ("P17", "country", "[X] is located in the country [Y]."),
    ("P19", "place of birth", "[X] (a person) was born in the place [Y]."),
    ("P20", "place of death", "[X] (a person) died in the place [Y]."),
    ("P27", "country of citizenship", "[X] (a person) is a citizen of the country [Y]."),
    ("P30", "continent", "[X] is located on the continent [Y]."),
    ("P31", "instance of", "[X] is an instance (an example) of the class [Y]."),
    ("P36", "capital", "The capital city of [X] is [Y]."),
    ("P37", "official language", "The official language of [X] is [Y]."),
    ("P39", "position held", "[X] (a person) holds or held the position [Y]."),
    ("P47", "shares border with", "[X] shares a border with [Y]."),
    ("P101", "field of work", "[X] works in the field [Y]."),
    ("P103", "native language", "The native language of [X] (a person) is [Y]."),
    ("P106", "occupation", "[X] (a person) has the occupation [Y]."),
    ("P108", "employer", "[X] (a person) works or worked for the organization [Y]."),
    ("P127", "owned by", "[X] is owned by [Y]."),
    (
        "P131",
        "located in the administrative territorial entity",
        "[X] is located in the administrative region [Y].",
    ),
    ("P136", "genre", "[X] (a musician or a work) plays or belongs to the genre [Y]."),
    ("P138", "named after", "[X] is named after [Y]."),
    ("P140", "religion", "[X] is affiliated with the religion [Y]."),
    ("P159", "headquarters location", "The headquarters of [X] (an organization) are in [Y]."),
    ("P176", "manufacturer", "[X] (a product) is manufactured by [Y]."),
    ("P178", "developer", "[X] (software or a product) is developed by [Y]."),
    ("P190", "twinned administrative body", "[X] and [Y] are twin (sister) cities."),
    ("P264", "record label", "[X] (a musician) is signed to the record label [Y]."),
    ("P276", "location", "[X] (an event, object or organization) is located in [Y]."),
    ("P279", "subclass of", "[X] is a subclass (a kind) of [Y]."),
    ("P361", "part of", "[X] is part of [Y]."),
    ("P364", "original language of work", "The original language of [X] (a film or work) is [Y]."),
    ("P407", "language of work", "[X] (a work) is written in the language [Y]."),
    ("P413", "position played", "[X] (an athlete) plays in the position [Y]."),
    ("P449", "original broadcaster", "[X] (a show) was originally aired on [Y]."),
    ("P463", "member of", "[X] is a member of the organization [Y]."),
    ("P495", "country of origin", "[X] (a work or product) comes from the country [Y]."),
    ("P527", "has part", "[X] consists of (has the part) [Y]."),
    ("P530", "diplomatic relation", "[X] (a country) maintains diplomatic relations with [Y]."),
    ("P740", "location of formation", "[X] (a group or organization) was founded in [Y]."),
    ("P937", "work location", "[X] (a person) worked in the place [Y]."),
    ("P1001", "applies to jurisdiction", "[X] (a legal term or office) applies to the jurisdiction [Y]."),
    ("P1303", "instrument", "[X] (a musician) plays the instrument [Y]."),
    ("P1376", "capital of", "[X] is the capital of [Y]."),
    ("P1412", "languages spoken, written or signed", "[X] (a person) speaks or writes [Y]."),
]

RELATIONS: dict[str, Relation] = {rid: Relation(rid, label, meaning) for rid, label, meaning in _TABLE}
RELATION_IDS: tuple[str, ...] = tuple(RELATIONS)


def check_relations(ids: list[str] | tuple[str, ...], option: str = "--relations") -> list[str]:
    from rml_lama.languages import check_choices

    return check_choices(ids, RELATION_IDS, "relation", option)
