"""Turn templates into cloze queries: fill in the subject, cut at the object.

Labels are inserted in their citation form; a label that opens the sentence gets a capital
first letter in the cased languages. The one morphological step is French's:
elision and contraction of the word before the subject, which depend on the subject's
first sound and its article ("de Oufa" → "d'Oufa", "de Le Havre" → "du Havre"). No other
language needs one, because the bank's templates keep [X] in its base form (checked by
``builders.validate``).
"""

from __future__ import annotations

import re

# Words that drop their vowel before a vowel sound (Grevisse §44): le, la, de, que, ne,
# se, me, te, je, jusque, lorsque, puisque (the last three only before a few words in
# careful style, but always in everyday writing).
FR_ELIDING = ("le", "la", "de", "que", "ne", "se", "me", "te", "je", "jusque", "lorsque", "puisque")
# A vowel sound at the start of a label. "h" is not included: in place names and titles
# it is often aspirated (de Hongrie, de Hollande, du Havre), and a mute h before a name is
# optionally elided (de Haïti / d'Haïti): the bare form is never wrong there. "y" is a vowel
# before a consonant (d'Ypres, d'Yves) and a consonant before a vowel (de Yokohama, de York).
FR_VOWEL = "aàâäeéèêëiîïoôöuùûüyÿœæ"


def _starts_with_vowel_sound(label: str) -> bool:
    first = label[:1].casefold()
    if first == "y":
        return label[1:2].casefold() not in FR_VOWEL
    return first != "" and first in FR_VOWEL


_FR_ELISION = re.compile(
    rf"(?<![\w'’-])({'|'.join(FR_ELIDING)})\s+(?=[{FR_VOWEL.replace('y', '')}]|y[^{FR_VOWEL}\W])",
    re.IGNORECASE,
)
# de/à + the articles le and les contract (de le → du, à les → aux); la and l' do not.
_FR_CONTRACTION = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au", ("à", "les"): "aux"}
_FR_ARTICLE = re.compile(r"(?<![\w'’-])(de|à)\s+(le|les)\s+(?=\w)", re.IGNORECASE)


def _keep_case(word: str, replacement: str) -> str:
    return replacement[0].upper() + replacement[1:] if word[:1].isupper() else replacement


def french_join(before: str, subject: str, person: bool = False) -> str:
    """``before`` (template text ending where the subject goes) + ``subject``, with the
    elision or contraction French requires at the boundary. A person's name keeps its
    article uncontracted ("de Le Corbusier", "de Les Paul"; but "du Havre")."""
    m = re.search(r"(?<![\w'’-])(\w+)\s+$", before)
    if m:
        word = m.group(1)
        low = word.casefold()
        art = re.match(r"(le|les)\s+(?=\w)", subject, re.IGNORECASE)
        if art and not person and (low, art.group(1).casefold()) in _FR_CONTRACTION:
            contracted = _keep_case(word, _FR_CONTRACTION[(low, art.group(1).casefold())])
            return before[: m.start(1)] + contracted + " " + subject[art.end() :]
        if low in FR_ELIDING and _starts_with_vowel_sound(subject):
            return before[: m.start(1)] + word[:-1] + "'" + subject
    return before + subject


# Languages whose sentences start with a capital letter (zh, ja, ko have no case).
CASED = ("en", "fr", "fi", "hu")


def fill(template: str, subject: str, language: str = "", person: bool = False) -> str:
    """The query: the text before ``[Y]`` with ``[X]`` replaced by the subject, stripped.
    ``person``: the subject is a person's name (French keeps its article as it is)."""
    head = template.split("[Y]", 1)[0]
    return _insert(head, subject, language, person).strip()


def sentence(template: str, subject: str, obj: str, language: str = "", person: bool = False) -> str:
    """The full statement: both placeholders filled (for training and masked models)."""
    return _insert(template, subject, language, person).replace("[Y]", obj)


def sentence_case(subject: str) -> str:
    """A label that opens a sentence, with its first letter capitalized ("broccoli" →
    "Broccoli", "royaume d'Italie" → "Royaume d'Italie"), unless its first word already
    has a capital anywhere ("iPhone", "eBay" stay as they are)."""
    first = subject.split(" ", 1)[0]
    if first[:1].isalpha() and first[:1].islower() and not any(ch.isupper() for ch in first):
        return subject[0].upper() + subject[1:]
    return subject


def _insert(text: str, subject: str, language: str, person: bool = False) -> str:
    if "[X]" not in text:
        return text
    before, after = text.split("[X]", 1)
    if language in CASED and not before.strip():
        subject = sentence_case(subject)
    if language == "fr":
        return french_join(before, subject, person) + after
    return before + subject + after


def fr_elision_errors(text: str) -> list[str]:
    """Places in French ``text`` where elision or contraction is missing: "de Oufa",
    "que il", "de Le Havre" (used to measure the built dataset)."""
    bad = [m.group(0) + text[m.end() : m.end() + 1] for m in _FR_ELISION.finditer(text)]
    bad += [m.group(0).strip() for m in _FR_ARTICLE.finditer(text)]
    return bad
