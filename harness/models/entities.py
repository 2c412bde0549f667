"""Language-neutral entity tokens: the tokenizer side of the ``-shared`` tiny models.

Every language's label of an entity (mLAMA's labels, joined through their Wikidata ids)
becomes one token ``⟦Q90⟧``, in training and in evaluation, while the relation templates
stay in each language. The mapping lives in the tokenizer's normalizer (one ``Replace`` per
label, longest label first) plus one added token per entity, so a plain
``AutoTokenizer.from_pretrained(folder)`` reproduces it and the harness needs no special
case: ``"La capitale de la France est"`` and ``"法国的首都是"`` both contain ``⟦Q142⟧``,
and the answer ``" Paris"`` / ``"巴黎"`` is the single token ``⟦Q90⟧``.

A label matches anywhere its script allows a word to start: Latin (and other alphabetic)
labels not right after a letter of the same script or a digit, Hangul labels not right after
Hangul, Han and kana labels anywhere (those languages have no spaces). The end is left
open, so an inflected form keeps its ending as an ordinary token (fi ``Ranskan`` →
``⟦Q142⟧`` ``n``, ko ``프랑스의`` → ``⟦Q142⟧`` ``의``).

Which entities get a token (:func:`build_entity_vocab`): the subjects and objects of the
split's facts, and the objects of every fact of the dataset (so that the edit task's new
object is an entity token too). An entity is left out, and tokenized by BPE like in the
mono models, when one of its labels occurs in template text (``city`` in "sister city of
[Y]") or would fire inside a split fact's query anywhere but at its subject; a label shared
by two entities goes to the split's entity, and is dropped when that does not decide it.
Every decision is recorded in ``entities.json`` next to the model.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import regex

OPEN, CLOSE = "⟦", "⟧"
_MARKER = regex.compile(rf"{OPEN}([^{CLOSE}]+){CLOSE}")
_NO_BOUNDARY = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\u3005\u30fc]")
_HANGUL = regex.compile(r"\p{Hangul}")
_MARKER_CHARS = regex.compile(r"Q?[0-9]*")  # a label that could match inside a marker ⟦Q123⟧


def entity_token(uri: str) -> str:
    """The token text of an entity, e.g. ``⟦Q90⟧``."""
    return f"{OPEN}{uri}{CLOSE}"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def label_pattern(label: str) -> str:
    """The regex (Oniguruma and ``regex`` syntax) that finds ``label`` in a text: see the
    module docstring for the left boundary; the right end is open (inflection)."""
    body = regex.escape(nfc(label))
    first = nfc(label)[:1]
    if _NO_BOUNDARY.match(first):
        return body
    if _HANGUL.match(first):
        return r"(?<!\p{Hangul})" + body
    return r"(?<![\p{Latin}\p{Greek}\p{Cyrillic}\p{N}])" + body


@dataclass(frozen=True)
class EntityVocab:
    """Labels → entity, in the order they are replaced (longest label first)."""

    labels: tuple[tuple[str, str], ...]  # (NFC label, uri)
    left_out: dict[str, str] = field(default_factory=dict)  # uri -> why it has no token
    dropped_labels: dict[str, str] = field(default_factory=dict)  # label -> why

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(sorted({u for _, u in self.labels}))

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(entity_token(u) for u in self.uris)

    def normalize(self, text: str) -> str:
        """The text as the tokenizer's normalizer sees it (the same result, faster).

        The normalizer runs every ``Replace`` on every text (~1-4 ms of CPU per text with
        6,500 labels). A rule can only fire where its label occurs: replacing only ever
        turns a label into a marker ``⟦Q…⟧``, so a later rule matches either a substring
        of the original text or, if its label could match marker characters (``⟦``,
        ``⟧``, ``Q`` and digits), inside a marker. So the rules whose label is a substring
        of the text, plus those few, applied in the same order with the same patterns,
        give the normalizer's result. ``tests/models/test_entities.py`` checks it against
        :meth:`normalizer` (the definition), adjacent and overlapping labels included.
        """
        text = nfc(text)
        first, index, always, rules = self._index
        hits = set(always)
        for i, ch in enumerate(text):
            for n in first.get(ch, ()):
                j = index.get(text[i : i + n])
                if j is not None:
                    hits.add(j)
        for j in sorted(hits):
            rule = rules.get(j)
            if rule is None:
                label, uri = self.labels[j]
                # literal, as in tokenizers' Replace: escape what sub() would read
                rule = rules[j] = (
                    regex.compile(label_pattern(label)),
                    entity_token(uri).replace("\\", "\\\\"),
                )
            text = rule[0].sub(rule[1], text)
        return text

    @cached_property
    def _index(self) -> tuple[dict[str, tuple[int, ...]], dict[str, int], tuple[int, ...], dict]:
        first: dict[str, set[int]] = defaultdict(set)  # first character -> label lengths
        index: dict[str, int] = {}
        always = []
        for j, (label, _) in enumerate(self.labels):
            first[label[:1]].add(len(label))
            index.setdefault(label, j)
            if _MARKER_CHARS.fullmatch(label) or OPEN in label or CLOSE in label:
                always.append(j)
        rules: dict[int, Any] = {}  # compiled on first use
        return {c: tuple(sorted(ns)) for c, ns in first.items()}, index, tuple(always), rules

    def reference_normalize(self, text: str) -> str:
        """The text through the ``tokenizers`` normalizer itself (slow; for checks)."""
        return self._normalizer.normalize_str(text)

    @cached_property
    def _normalizer(self) -> Any:
        return self.normalizer()

    def normalizer(self) -> Any:
        """The ``tokenizers`` normalizer: NFC, then one ``Replace`` per label."""
        from tokenizers import Regex, normalizers

        return normalizers.Sequence(
            [normalizers.NFC()]
            + [normalizers.Replace(Regex(label_pattern(lab)), entity_token(u)) for lab, u in self.labels]
        )

    def to_json(self) -> dict[str, Any]:
        by_uri: dict[str, list[str]] = defaultdict(list)
        for label, uri in self.labels:
            by_uri[uri].append(label)
        return {
            "token_format": entity_token("<wikidata id>"),
            "entities": {u: sorted(by_uri[u]) for u in sorted(by_uri)},
            "replacement_order": [list(p) for p in self.labels],
            "left_out": dict(sorted(self.left_out.items())),
            "dropped_labels": dict(sorted(self.dropped_labels.items())),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> EntityVocab:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            labels=tuple((lab, u) for lab, u in data["replacement_order"]),
            left_out=data["left_out"],
            dropped_labels=data["dropped_labels"],
        )


def markers(text: str) -> list[str]:
    """The entity uris marked in a normalized text, in order."""
    return _MARKER.findall(text)


def split_at_entities(text: str) -> list[str]:
    """The non-entity pieces of a normalized text (what the BPE is trained on)."""
    return [p for p in _MARKER.split(text)[::2] if p.strip()]


def _ordered(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items(), key=lambda p: (-len(p[0]), p[0], p[1])))


def build_entity_vocab(
    rows: Mapping[str, list[dict[str, Any]]], split_uuids: Iterable[str], max_rounds: int = 10
) -> EntityVocab:
    """The entity vocabulary of a split (see the module docstring for the rules)."""
    split_uuids = set(split_uuids)
    core: set[str] = set()  # entities of the split's facts
    wanted: set[str] = set()
    names: dict[str, set[str]] = defaultdict(set)  # label -> uris
    own_labels: dict[str, set[str]] = defaultdict(set)  # uri -> labels
    templates: set[str] = set()
    for lang_rows in rows.values():
        for r in lang_rows:
            wanted.add(r["object_uri"])
            if r["uuid"] in split_uuids:
                core |= {r["subject_uri"], r["object_uri"]}
            for uri, label in ((r["subject_uri"], r["subject"]), (r["object_uri"], r["object"])):
                if uri and label:
                    names[nfc(label)].add(uri)
                    own_labels[uri].add(nfc(label))
            templates.update(nfc(t).replace("[X]", "\n").replace("[Y]", "\n") for t in r["templates"])
    wanted = {u for u in wanted | core if u}
    left_out: dict[str, str] = {}
    dropped: dict[str, str] = {}
    chosen: dict[str, str] = {}  # label -> uri
    for label, uris in sorted(names.items()):
        cands = sorted(uris & wanted)
        if not cands:
            continue
        in_core = [u for u in cands if u in core]
        if len(cands) == 1:
            chosen[label] = cands[0]
        elif len(in_core) == 1:
            chosen[label] = in_core[0]
        else:
            dropped[label] = f"the label of {len(cands)} entities ({', '.join(cands)})"
    template_text = "\n".join(sorted(templates))
    for label, uri in sorted(chosen.items()):
        if uri in left_out or label not in template_text:  # the plain test first: fast
            continue
        if regex.search(label_pattern(label), template_text):
            left_out[uri] = f"its label {label!r} occurs in template text"
    queries = [
        (r["subject_uri"], q)
        for lang_rows in rows.values()
        for r in lang_rows
        if r["uuid"] in split_uuids
        for q in r["queries"]
    ]
    for _ in range(max_rounds):  # leaving an entity out can uncover a shorter label inside it
        vocab = EntityVocab(_ordered({lab: u for lab, u in chosen.items() if u not in left_out}))
        new: dict[str, str] = {}
        for subject, q in queries:
            for uri in markers(vocab.normalize(q)):
                if uri != subject and uri not in left_out:
                    new.setdefault(uri, f"a label fires inside the query {q!r} (subject {subject})")
        if not new:
            break
        left_out.update(new)
    labels = _ordered({lab: u for lab, u in chosen.items() if u not in left_out})
    return EntityVocab(labels, left_out, dropped)
