"""Language-neutral entity tokens (the -shared tiny models): matching rules, the vocabulary's
choices, and the tokenizer that every harness path goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex
from transformers import AutoTokenizer

from harness.attribution.query import ClozeQuery, encode_query
from harness.models.entities import (
    EntityVocab,
    build_entity_vocab,
    entity_token,
    label_pattern,
    markers,
    split_at_entities,
)
from harness.models.tokenizer import train_tokenizer

FRANCE = {
    "en": "France",
    "fr": "France",
    "fi": "Ranska",
    "hu": "Franciaország",
    "zh": "法国",
    "ja": "フランス",
    "ko": "프랑스",
}
PARIS = {
    "en": "Paris",
    "fr": "Paris",
    "fi": "Pariisi",
    "hu": "Párizs",
    "zh": "巴黎",
    "ja": "パリ",
    "ko": "파리",
}
CAPITAL = {
    "en": "The capital of [X] is [Y].",
    "fr": "La capitale de [X] est [Y].",
    "fi": "[X]n pääkaupunki on [Y].",
    "hu": "[X] fővárosa [Y].",
    "zh": "[X]的首都是[Y]。",
    "ja": "[X]の首都は[Y]。",
    "ko": "[X]의 수도는 [Y].",
}


def _row(uuid, rel, subj, s_uri, obj, o_uri, lang, template):  # noqa: ANN001, ANN202
    return {
        "uuid": uuid,
        "relation": rel,
        "subject": subj,
        "subject_uri": s_uri,
        "object": obj,
        "object_uri": o_uri,
        "language": lang,
        "templates": [template],
        "queries": [template.split("[Y]")[0].rstrip().replace("[X]", subj)],
    }


def _rows(extra: list[tuple] = ()) -> dict[str, list[dict]]:  # noqa: ANN001
    rows: dict[str, list[dict]] = {lang: [] for lang in FRANCE}
    for lang in FRANCE:
        rows[lang].append(_row("f1", "P36", FRANCE[lang], "Q142", PARIS[lang], "Q90", lang, CAPITAL[lang]))
    for uuid, subj, s_uri, obj, o_uri, template in extra:
        rows["en"].append(_row(uuid, "P1", subj, s_uri, obj, o_uri, "en", template))
    return rows


def _find(label: str, text: str) -> bool:
    return regex.search(label_pattern(label), text) is not None


def test_label_boundaries() -> None:
    assert _find("Paris", "capital is Paris") and not _find("Paris", "Comparison")
    assert _find("Paris", "Parisian")  # the end is open: inflection (fi Ranskan, hu Párizsban)
    assert _find("Gmail", "拥有Gmail的是")  # Latin inside Han text: no Latin letter before it
    assert not _find("ail", "Gmail") and not _find("7", "Q17")
    assert _find("巴黎", "我在巴黎") and _find("パリ", "首都はパリ")  # no spaces: anywhere
    assert _find("파리", "수도는 파리") and not _find("파리", "개파리")  # Hangul: not after Hangul
    assert _find("프랑스", "프랑스의")


def test_every_label_becomes_the_one_token() -> None:
    vocab = build_entity_vocab(_rows(), {"f1"})
    assert set(vocab.uris) == {"Q142", "Q90"} and not vocab.left_out
    for lang in FRANCE:
        query = _rows()[lang][0]["queries"][0]
        assert markers(vocab.normalize(query)) == ["Q142"], (lang, vocab.normalize(query))
        assert vocab.normalize(PARIS[lang]) == entity_token("Q90")
    assert vocab.normalize("Ranskan pääkaupunki on") == "⟦Q142⟧n pääkaupunki on"
    assert split_at_entities("⟦Q142⟧n pääkaupunki on ⟦Q90⟧.") == ["n pääkaupunki on ", "."]


def test_longest_label_first_and_ambiguity() -> None:
    extra = [
        ("f2", "New York City", "Q60", "Paris", "Q90", "[X] is twinned with [Y]."),
        ("f3", "New York", "Q1384", "France", "Q142", "[X] is twinned with [Y]."),
        # two entities called Georgia; only one is in the split
        ("f4", "Georgia", "Q230", "Paris", "Q90", "[X] is twinned with [Y]."),
        ("f5", "Georgia", "Q1428", "Paris", "Q90", "[X] is twinned with [Y]."),
        ("f6", "Victoria", "Q1", "Paris", "Q90", "[X] is twinned with [Y]."),
        ("f7", "Victoria", "Q2", "Paris", "Q90", "[X] is twinned with [Y]."),
    ]
    vocab = build_entity_vocab(_rows(extra), {"f1", "f2", "f3", "f4", "f6", "f7"})
    assert vocab.normalize("New York City is twinned with") == "⟦Q60⟧ is twinned with"
    assert vocab.normalize("New York is twinned with") == "⟦Q1384⟧ is twinned with"
    assert vocab.normalize("Georgia") == "⟦Q230⟧"  # the split's entity wins
    assert "Victoria" in vocab.dropped_labels and vocab.normalize("Victoria") == "Victoria"
    lengths = [len(label) for label, _ in vocab.labels]
    assert lengths == sorted(lengths, reverse=True)


def test_collisions_leave_the_entity_out() -> None:
    extra = [
        # "city" is an object, and a word of another template: it cannot be a token
        ("f2", "Lyon", "Q456", "city", "Q515", "[X] is a [Y]."),
        ("f3", "Nice", "Q33959", "Paris", "Q90", "[X] is a sister city of [Y]."),
        # "Nice" fires inside the subject "Nice Côte" of another split fact
        ("f4", "Nice Côte", "Q7", "Paris", "Q90", "[X] lies near [Y]."),
    ]
    rows = _rows(extra)
    rows["en"][-1]["subject"] = "Côte"  # the label differs from what the query says
    rows["en"][-1]["queries"] = ["Nice Côte lies near"]
    vocab = build_entity_vocab(rows, {"f1", "f2", "f3", "f4"})
    assert "template text" in vocab.left_out["Q515"]
    assert "fires inside the query" in vocab.left_out["Q33959"]
    assert "Q515" not in vocab.uris and "Q456" in vocab.uris


@pytest.fixture(scope="module")
def tok():  # noqa: ANN201
    vocab = build_entity_vocab(_rows(), {"f1"})
    sentences = [
        r["queries"][0] + (" " if lang not in ("zh", "ja") else "") + PARIS[lang] + "."
        for lang, rows in _rows().items()
        for r in rows
    ]
    return train_tokenizer(sentences * 5, 300, entities=vocab), vocab


class _Causal:
    is_causal = True

    def __init__(self, tokenizer) -> None:  # noqa: ANN001
        self.tokenizer = tokenizer


def test_harness_sees_one_answer_token_in_every_language(tok, tmp_path: Path) -> None:  # noqa: ANN001
    tokenizer, vocab = tok
    subject, answer = (tokenizer.convert_tokens_to_ids(entity_token(u)) for u in ("Q142", "Q90"))
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)  # what load_model gives the harness
    for t in (tokenizer, loaded):
        for lang in FRANCE:
            prefix = _rows()[lang][0]["queries"][0]
            query = ClozeQuery(prefix, PARIS[lang], ".", space=lang not in ("zh", "ja"))
            enc = encode_query(_Causal(t), query)
            assert enc.object_ids.tolist() == [answer], lang
            assert subject in enc.input_ids.tolist(), lang
            sentence = t(prefix + query.separator + PARIS[lang] + ".")["input_ids"]
            period = t(".", add_special_tokens=False)["input_ids"]
            assert sentence == t(prefix)["input_ids"] + [answer] + period
    assert len(loaded) == len(tokenizer)


def test_vocab_round_trip(tok, tmp_path: Path) -> None:  # noqa: ANN001
    _, vocab = tok
    vocab.save(tmp_path / "entities.json")
    again = EntityVocab.load(tmp_path / "entities.json")
    assert again.labels == vocab.labels and again.normalize("法国的首都是") == "⟦Q142⟧的首都是"


# Labels chosen so that the order of the rules matters: a longer label overlapping a shorter
# one that starts earlier (York City / New York), a label that only fires once the label
# before it became a marker (zab, then cde; see below), Q-digit labels that match inside a
# marker, labels inside labels, and Han / Hangul boundaries.
_TRICKY = (
    "York City",
    "New York",
    "cde",
    "zab",
    "Q1",
    "Q",
    "14",
    "ab",
    "abc",
    "bc d",
    "Paris",
    "Pariisi",
    "巴黎",
    "黎",
    "파리",
    "리",
    "City",
    "Yor",
    "e",
)


def _tricky_vocab() -> EntityVocab:
    from harness.models.entities import _ordered

    return EntityVocab(_ordered({lab: f"Q{i + 1}" for i, lab in enumerate(_TRICKY)}))


def test_fast_normalize_is_the_normalizer() -> None:
    """The prefiltered normalize gives what the tokenizers normalizer (the definition)
    gives, on texts made of label pieces, where rules overlap, touch and nest."""
    import random

    vocab = _tricky_vocab()
    pieces = [*_TRICKY, " ", "x", "의", "的", "⟦", "⟧", "é", "e\u0301", "Q", "1", "4", "z"]
    rng = random.Random(14)
    texts = ["New York City", "zabcde", "zab cde", "Q14", "⟦Q1⟧4", "abc d", "개파리", "巴黎的"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    for text in texts:
        assert vocab.normalize(text) == vocab.reference_normalize(text), text
    # the cases the order decides (a single alternation gets these wrong)
    plain = EntityVocab((("York City", "Q1"), ("New York", "Q2"), ("zab", "Q4"), ("cde", "Q3")))
    for text, want in (("New York City", "New ⟦Q1⟧"), ("zabcde", "⟦Q4⟧⟦Q3⟧")):
        assert plain.normalize(text) == plain.reference_normalize(text) == want


def test_prenormalized_ids_are_the_tokenizer_ids(tok) -> None:  # noqa: ANN001
    from harness.models.tokenizer import prenormalized_ids

    tokenizer, vocab = tok
    ids = prenormalized_ids(tokenizer, vocab)
    texts = [
        r["queries"][0] + end
        for rows in _rows().values()
        for r in rows
        for end in ("", " Paris.", "巴黎。", " Pariisin", "Ranskan", "")
    ]
    texts += ["", " ", "France France", "Franceé e\u0301", " <mask> Paris", "unknown ☃ text"]
    for text in texts:
        assert ids(text) == tokenizer(text, add_special_tokens=False)["input_ids"], text


def test_query_token_cache_sees_new_tokens(tok) -> None:  # noqa: ANN001
    """encode_query's per-text cache answers repeated texts, and a tokenizer that gains a
    token after a call is tokenized afresh."""
    from harness.attribution.query import _ids

    tokenizer, _ = tok
    tokenizer = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer.__class__.from_str(tokenizer.backend_tokenizer.to_str())
    )
    before = _ids(tokenizer, "zzyzx Paris")
    assert _ids(tokenizer, "zzyzx Paris") == before
    tokenizer.add_tokens(["zzyzx"])
    after = _ids(tokenizer, "zzyzx Paris")
    assert after != before and after == tokenizer("zzyzx Paris", add_special_tokens=False)["input_ids"]
