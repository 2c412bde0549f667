"""Validation rules for templates and queries. Each rule is a named check with a reason.

Template rules look at one template of a (relation, language); set rules at all templates
of a (relation, language) together; query rules at one filled query of a fact. A rule
returns ``None`` when the item passes, otherwise the reason it fails. Rejections go to the
validation report: nothing is dropped silently.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

from rml_lama.languages import LANGUAGES

MAX_TEMPLATE_CHARS = 160
MAX_QUERY_CHARS = 300
# Characters that may follow [Y] at the end of a template.
FINAL_PUNCTUATION = ".。?？!！ "
# lingua: the expected language must win, or be at least this confident.
LANGUAGE_MIN_CONFIDENCE = 0.25


@dataclass(frozen=True)
class Rejection:
    rule: str  # the rule's name
    reason: str  # why the item failed
    language: str
    relation: str
    item: str  # the template or query text
    uuid: str = ""  # for query rules: the fact
    source: str = ""  # where the item came from (bank file and entry, generator, ...)

    def to_dict(self) -> dict:
        return asdict(self)


TemplateRule = Callable[[str, str], "str | None"]  # (template, language) -> reason


def check_placeholders(template: str, language: str) -> str | None:
    nx, ny = template.count("[X]"), template.count("[Y]")
    if nx != 1 or ny != 1:
        return f"needs [X] once and [Y] once, has [X]×{nx} and [Y]×{ny}"
    rest = template.replace("[X]", "").replace("[Y]", "")
    if re.search(r"\[[A-Z]\]", rest):
        return "has a placeholder other than [X] and [Y]"
    return None


def check_y_final(template: str, language: str) -> str | None:
    if "[Y]" not in template:
        return "has no [Y]"
    tail = template.split("[Y]", 1)[1]
    if tail.strip(FINAL_PUNCTUATION):
        return f"[Y] must be last (only final punctuation after it), but {tail.strip()!r} follows"
    return None


def check_length(template: str, language: str) -> str | None:
    if not any(ch.isalnum() for ch in strip_placeholders(template)):
        return "has no words besides [X] and [Y]"
    if len(template) > MAX_TEMPLATE_CHARS:
        return f"is {len(template)} characters long, more than {MAX_TEMPLATE_CHARS}"
    return None


def check_language(template: str, language: str) -> str | None:
    text = strip_placeholders(template)
    if not any(ch.isalpha() for ch in text):
        return "has no letters to identify its language"
    conf = language_confidences(text)
    expected = conf.get(language, 0.0)
    best = max(conf, key=conf.__getitem__)
    if best != language and expected < LANGUAGE_MIN_CONFIDENCE:
        return f"language identified as {best} ({conf[best]:.2f}), not {language} ({expected:.2f})"
    return None


# Languages whose labels would need an ending or case suffix glued on; the bank keeps [X]
# and [Y] free-standing there (relative clause, apposition, nominative possessor).
AGGLUTINATIVE = ("fi", "hu")


def check_base_form(template: str, language: str) -> str | None:
    """fi/hu: [X] and [Y] stand in their base form; nothing is glued onto them. A colon
    ending ("[X]:n") is Finnish only after abbreviations, numbers and symbols, which a
    template cannot know its subject to be; a hyphen ending ("[X]-ban") likewise."""
    if language not in AGGLUTINATIVE:
        return None
    for ph in ("[X]", "[Y]"):
        m = re.search(re.escape(ph) + r"([:\-'’]?\w+)", template)
        if m:
            return (
                f"{ph} carries the ending {m.group(1)!r}; write a construction that keeps "
                f"it in the nominative (relative clause, apposition, 'X on maa, jonka ...')"
            )
        m = re.search(r"(\w+[:\-'’]?)" + re.escape(ph), template)
        if m:
            return f"{ph} is glued to {m.group(1)!r}; leave a space before it"
    return None


# French words that elide before a vowel: before [Y] the query would have to choose the
# form without knowing the answer (de Italie / d'Italie), so they may not stand there.
FR_ELIDING_BEFORE_Y = ("de", "le", "la", "que", "ne", "se", "jusque", "lorsque", "puisque")
# Forms of être (and the perfect of passive forms) that make a following participle or
# adjective agree with [X]'s gender and number, which a template cannot know.
_FR_ETRE = r"(?:est|était|fut|sera|a été|avait été|sont|étaient)"
_FR_PARTICIPLES = frozenset(
    "né née mort morte écrit écrite produit produite construit construite fait faite conçu "
    "conçue détenu détenue connu connue établi établie basé basée".split()
)


def check_french(template: str, language: str) -> str | None:
    """fr: no elidable word before [Y]; no participle agreeing with [X] ("[X] est né",
    "[X] a été développé"): agreement-free constructions only."""
    if language != "fr":
        return None
    m = re.search(r"(?<![\w'’])(\w+)\s+\[Y\]", template)
    if m and m.group(1).casefold() in FR_ELIDING_BEFORE_Y:
        return (
            f"{m.group(1)!r} before [Y] must elide before a vowel (de Italie → d'Italie), "
            "which depends on the answer; use another construction"
        )
    m = re.search(
        r"(?<!de )(?<!du )(?<!des )(?<![dl]')(?<![dl]’)\[X\],?\s+" + _FR_ETRE + r"\s+(\w+)", template
    )
    if m and (
        m.group(1).casefold().endswith(("é", "ée", "és", "ées")) or m.group(1).casefold() in _FR_PARTICIPLES
    ):
        return (
            f"{m.group(1)!r} would have to agree with [X]'s gender and number; use an "
            "agreement-free construction (a noun phrase or an active verb)"
        )
    return None


TEMPLATE_RULES: dict[str, TemplateRule] = {
    "placeholders": check_placeholders,
    "y_final": check_y_final,
    "length": check_length,
    "language": check_language,
    "base_form": check_base_form,
    "french": check_french,
}


def validate_template(template: str, language: str) -> list[tuple[str, str]]:
    """Every failing template rule as ``(rule, reason)``; [] when the template is valid."""
    out = []
    for name, rule in TEMPLATE_RULES.items():
        reason = rule(template, language)
        if reason is not None:
            out.append((name, reason))
            if name == "placeholders":  # the other rules assume well-formed placeholders
                break
    return out


def find_duplicates(templates: list[str]) -> dict[int, int]:
    """``{i: j}`` for every template i that duplicates an earlier template j after
    normalization (rule ``duplicate``)."""
    seen: dict[str, int] = {}
    dups = {}
    for i, t in enumerate(templates):
        key = normalize(t)
        if key in seen:
            dups[i] = seen[key]
        else:
            seen[key] = i
    return dups


def find_shared(templates: list[tuple[str, str, str]]) -> list[str]:
    """Rule ``shared_template``: a template text (after normalization) used by two relations
    of one language asks two different questions with one wording. ``templates`` are
    ``(language, relation, template)``; returns one reason per clash."""
    first: dict[tuple[str, str], str] = {}
    out = []
    for lang, rel, t in templates:
        key = (lang, normalize(t))
        if key in first and first[key] != rel:
            out.append(
                f"{lang}: {t!r} is used by {first[key]} and {rel}; a template must "
                "name its relation's meaning"
            )
        first.setdefault(key, rel)
    return out


def check_query(
    query: str, subject: str, obj: str, language: str, also: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """Query rules: ``empty``, ``too_long``, ``subject_is_object``, ``object_leak``. ``also``
    are more labels that must not appear: the object's labels in the other languages (a
    Latin label inside a ja/zh/ko query) and the fact's other valid objects. Returns
    (rule, reason) or None."""
    if not query.strip() or query.strip() == subject.strip():
        return ("empty", "the query has no text besides the subject")
    if len(query) > MAX_QUERY_CHARS:
        return ("too_long", f"the query is {len(query)} characters, more than {MAX_QUERY_CHARS}")
    if _fold(subject) == _fold(obj):
        return ("subject_is_object", f"the subject and the object are both {obj!r}")
    label = leaking_label((obj, *also), query, language)
    if label is not None:
        what = "the object" if label == obj else "the label"
        return ("object_leak", f"{what} {label!r} appears in the query")
    return None


# Below this length a label is matched as a whole word only: a 1-2 letter object ("C",
# "Ra") is the start of too many ordinary words to count as a hint. A Hangul syllable is a
# whole syllable, so two of them (살인) are already a word.
MIN_PREFIX_CHARS = 3
MIN_PREFIX_SYLLABLES = 2


def leaks(obj: str, text: str, language: str) -> bool:
    """Whether the object label occurs in ``text``.

    Unspaced scripts (zh, ja): anywhere. Spaced languages: at the start of a word, so that a
    suffix or particle attached to it does not hide it (ko "살인의" for 살인, fi "Suomessa"
    for a label "Suomes…", hu "Budapesten"), nor does a compound or a longer name
    (Northamptonshire for Northampton, AppleTalk for Apple). Labels shorter than
    ``MIN_PREFIX_CHARS`` letters (``MIN_PREFIX_SYLLABLES`` Hangul syllables) must match a
    whole word. Case-, width- and accent-form-insensitive (NFKC + casefold)."""
    return leaking_label((obj,), text, language) is not None


def leaking_label(labels: Iterable[str], text: str, language: str) -> str | None:
    """The first of ``labels`` that leaks into ``text`` by :func:`leaks`' rule, or None
    (the text is folded once for all labels)."""
    t = _fold(text)
    spaced = LANGUAGES[language].spaced
    for label in labels:
        o = _fold(label)
        if not o or o not in t:  # fast path: no occurrence at all
            continue
        if not spaced or not (o[0].isalnum() and o[-1].isalnum()):
            return label
        if _leak_pattern(o).search(t) is not None:
            return label
    return None


@lru_cache(maxsize=65536)
def _leak_pattern(o: str) -> re.Pattern:
    hangul = any("\uac00" <= ch <= "\ud7a3" for ch in o)
    end = r"(?!\w)" if len(o) < (MIN_PREFIX_SYLLABLES if hangul else MIN_PREFIX_CHARS) else ""
    return re.compile(rf"(?<!\w){re.escape(o)}{end}")


def strip_placeholders(template: str) -> str:
    return re.sub(r"\s+", " ", template.replace("[X]", " ").replace("[Y]", " ")).strip()


def normalize(template: str) -> str:
    """Case-, width-, white-space- and punctuation-insensitive key of a template."""
    t = _fold(template)
    t = "".join(ch for ch in t if not unicodedata.category(ch).startswith("P") or ch in "[]")
    return re.sub(r"\s+", "", t)


def clean_whitespace(template: str) -> str:
    """Collapse white space and drop a space before final punctuation ("[Y] ." → "[Y].")."""
    t = re.sub(r"\s+", " ", template).strip()
    return re.sub(r"\s+([.。?？!！])$", r"\1", t)


@lru_cache(maxsize=262144)
def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold().strip()


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    langs = [getattr(Language, lang.lingua) for lang in LANGUAGES.values()]
    return LanguageDetectorBuilder.from_languages(*langs).build()


_LINGUA_TO_CODE = {lang.lingua: code for code, lang in LANGUAGES.items()}


@lru_cache(maxsize=8192)
def _confidences(text: str) -> tuple[tuple[str, float], ...]:
    values = _detector().compute_language_confidence_values(text)
    return tuple((_LINGUA_TO_CODE[v.language.name], v.value) for v in values)


def language_confidences(text: str) -> dict[str, float]:
    """lingua's confidence for each of the seven languages (they sum to 1)."""
    return dict(_confidences(text))
