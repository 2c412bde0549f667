"""The seven languages of RML-LAMA and what the builder and harness need to know about them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, also the dataset config name
    name: str  # English name
    lingua: str  # lingua.Language member name, for language identification
    spaced: bool  # words separated by spaces (an answer follows its prompt after a space)
    high_resource: bool  # the paper's high-/low-resource split (§IV-G)


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("zh", "Chinese", "CHINESE", spaced=False, high_resource=True),
        Language("en", "English", "ENGLISH", spaced=True, high_resource=True),
        Language("fr", "French", "FRENCH", spaced=True, high_resource=True),
        Language("fi", "Finnish", "FINNISH", spaced=True, high_resource=False),
        Language("hu", "Hungarian", "HUNGARIAN", spaced=True, high_resource=False),
        Language("ja", "Japanese", "JAPANESE", spaced=False, high_resource=False),
        Language("ko", "Korean", "KOREAN", spaced=True, high_resource=False),
    )
}
LANGUAGE_CODES: tuple[str, ...] = tuple(LANGUAGES)
HIGH_RESOURCE: tuple[str, ...] = tuple(c for c, lang in LANGUAGES.items() if lang.high_resource)
LOW_RESOURCE: tuple[str, ...] = tuple(c for c, lang in LANGUAGES.items() if not lang.high_resource)


def check_choices(
    values: list[str] | tuple[str, ...], valid: tuple[str, ...], what: str, option: str
) -> list[str]:
    """``values`` without repeats, or ValueError naming the option and the valid choices."""
    unknown = [v for v in values if v not in valid]
    if unknown:
        raise ValueError(
            f"{option}: unknown {what}(s) {', '.join(unknown)}; valid choices: {', '.join(valid)}"
        )
    if not values:
        raise ValueError(f"{option}: at least one {what} is needed")
    return list(dict.fromkeys(values))


def check_languages(codes: list[str] | tuple[str, ...], option: str = "--languages") -> list[str]:
    return check_choices(codes, LANGUAGE_CODES, "language", option)
