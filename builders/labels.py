"""Label normalization: the script policy of each language.

- zh: mLAMA's Chinese labels come from Wikidata's ``zh`` label, a mix of Simplified and
  Traditional characters (26.5 % of subjects and 15.1 % of objects had Traditional ones)
  while every zh template is Simplified. Labels are converted to Simplified Chinese with
  OpenCC's ``t2s`` (phrase-level, maintained dictionaries); the mLAMA label is kept in
  ``subject_mlama`` / ``object_mlama``.
- ja, ko: kept as mLAMA gives them. Japanese labels are written in Japanese (shinjitai
  kanji, kana), which a Chinese converter would corrupt; Korean labels are Hangul, with a
  few in Latin script. Neither has a Simplified/Traditional split to unify.
- en, fr, fi, hu: kept, stripped of surrounding white space.
"""

from __future__ import annotations

from functools import cache, lru_cache


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@cache
def normalize_label(label: str, language: str) -> str:
    """The label as RML-LAMA uses it in ``language`` (see the module docstring)."""
    label = label.strip()
    if language == "zh":
        return _t2s().convert(label)
    return label


def traditional_out_of_context(text: str) -> list[str]:
    """Characters of ``text`` that OpenCC's ``t2s`` changes when converted on their own: the
    Traditional-only characters (a character both scripts share maps to itself). Stricter
    than converting ``text`` as a whole, where the phrase table may keep a character."""
    return [ch for ch in text if _t2s().convert(ch) != ch]
