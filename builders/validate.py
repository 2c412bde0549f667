"""Validation rules for templates and queries. Each rule is a named check with a reason.

Template rules look at one template of a (relation, language); set rules at all templates
of a (relation, language) together; query rules at one filled query of a fact. A rule
returns ``None`` when the item passes, otherwise the reason it fails. Rejections go to the
validation report: nothing is dropped silently.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
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
        return (
            f"language identified as {best} ({conf[best]:.2f}), "
            f"not {language} ({expected:.2f})"
        )
    return None


TEMPLATE_RULES: dict[str, TemplateRule] = {
    "placeholders": check_placeholders,
    "y_final": check_y_final,
    "length": check_length,
    "language": check_language,
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


def check_query(query: str, subject: str, obj: str, language: str) -> tuple[str, str] | None:
    """Query rules: ``empty``, ``too_long``, ``object_leak``. Returns (rule, reason) or None."""
    if not query.strip() or query.strip() == subject.strip():
        return ("empty", "the query has no text besides the subject")
    if len(query) > MAX_QUERY_CHARS:
        return ("too_long", f"the query is {len(query)} characters, more than {MAX_QUERY_CHARS}")
    if leaks(obj, query, language):
        return ("object_leak", f"the object {obj!r} appears in the query")
    return None


def leaks(obj: str, text: str, language: str) -> bool:
    """Whether the object label occurs in ``text`` (as a word in spaced languages)."""
    o, t = _fold(obj), _fold(text)
    if not o:
        return False
    if LANGUAGES[language].spaced and o[0].isalnum() and o[-1].isalnum():
        return re.search(rf"(?<!\w){re.escape(o)}(?!\w)", t) is not None
    return o in t


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
