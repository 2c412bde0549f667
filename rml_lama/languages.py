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


def check_languages(codes: list[str] | tuple[str, ...], option: str = "--languages") -> list[str]:
    """Return ``codes`` unchanged, or raise ValueError naming the option and the valid choices."""
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise ValueError(
            f"{option}: unknown language(s) {', '.join(unknown)}; "
            f"valid choices: {', '.join(LANGUAGE_CODES)}"
        )
    if not codes:
        raise ValueError(f"{option}: at least one language is needed")
    return list(dict.fromkeys(codes))
