"""The localizer contract: what a localizer receives, what it returns, and how it is built.

A *localizer* takes one fact (its cloze queries in every language) and an
:class:`AttributionProvider`, and returns the selected neurons as a :class:`NeuronSet`.
Localizers never call the attribution engine themselves: the provider computes each
(query, method, steps) attribution once and shares it with every localizer of a run.

Shapes: ``L`` layers, ``N`` neurons per layer, ``K`` selected neurons.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from harness.attribution.query import ClozeQuery


@dataclass(frozen=True)
class Fact:
    """One fact with its cloze queries per language (``{"en": (q1, q2, ...), ...}``)."""

    uuid: str  # the same fact in every language (mLAMA uuid)
    relation: str  # Wikidata property id, e.g. "P36"
    queries: Mapping[str, tuple[ClozeQuery, ...]] = field(hash=False)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages that have at least one query, in the mapping's order."""
        return tuple(lang for lang, qs in self.queries.items() if len(qs) > 0)

    def select(self, languages: Iterable[str] | None) -> dict[str, tuple[ClozeQuery, ...]]:
        """The non-empty query tuples of ``languages`` (all when None); raises ValueError
        when a requested language has no query or nothing is left."""
        if languages is None:
            out = {lang: tuple(self.queries[lang]) for lang in self.languages}
        else:
            wanted = list(dict.fromkeys(languages))
            missing = [lang for lang in wanted if not self.queries.get(lang)]
            if missing:
                raise ValueError(f"fact {self.uuid}: no queries in language(s) {', '.join(missing)}")
            out = {lang: tuple(self.queries[lang]) for lang in wanted}
        if not out:
            raise ValueError(f"fact {self.uuid}: no queries in any language")
        return out


def fact_from_rows(rows: Iterable[Mapping[str, Any]]) -> Fact:
    """Build a :class:`Fact` from RML-LAMA rows of one fact (one row per language, see
    ``rml_lama.schema``): each query becomes ``ClozeQuery(query, object, suffix, space)``
    where the suffix is the template's text after ``[Y]``."""
    from rml_lama.languages import LANGUAGES

    rows = list(rows)
    if not rows:
        raise ValueError("fact_from_rows needs at least one row")
    uuid, relation = rows[0]["uuid"], rows[0]["relation"]
    queries: dict[str, tuple[ClozeQuery, ...]] = {}
    for row in rows:
        if row["uuid"] != uuid:
            raise ValueError(f"rows of different facts: {uuid} and {row['uuid']}")
        spaced = LANGUAGES[row["language"]].spaced
        queries[row["language"]] = tuple(
            ClozeQuery(q, row["object"], t.split("[Y]", 1)[1] if "[Y]" in t else "", spaced,
                       tuple(o for o in row.get("objects") or () if o != row["object"]))
            for q, t in zip(row["queries"], row["templates"], strict=True)
        )
    return Fact(uuid, relation, queries)


@dataclass(frozen=True)
class NeuronSet:
    """The neurons a localizer selected for one fact, best first.

    ``neurons[i] = (layer, index)`` has score ``scores[i]`` (the localizer's own scale);
    ``meta`` holds JSON-able details (options, thresholds, counts).
    """

    neurons: torch.Tensor  # [K, 2] long: (layer, neuron index)
    scores: torch.Tensor  # [K] float32
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def __len__(self) -> int:
        return int(self.neurons.shape[0])

    def as_tuples(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in self.neurons.tolist()]

    def mask(self, shape: tuple[int, int]) -> torch.Tensor:
        """``[L, N]`` bool, True at the selected neurons."""
        out = torch.zeros(shape, dtype=torch.bool)
        out[self.neurons[:, 0], self.neurons[:, 1]] = True
        return out

    @classmethod
    def empty(cls, meta: dict[str, Any] | None = None) -> NeuronSet:
        return cls(torch.zeros((0, 2), dtype=torch.long), torch.zeros(0), dict(meta or {}))

    @classmethod
    def from_mask(
        cls, mask: torch.Tensor, scores: torch.Tensor, meta: dict[str, Any] | None = None
    ) -> NeuronSet:
        """The True entries of ``mask [L, N]`` with their ``scores [L, N]``, sorted by score
        (descending; ties by layer, then index)."""
        idx = mask.nonzero()  # [K, 2], row-major order
        vals = scores[idx[:, 0], idx[:, 1]].float()
        order = torch.argsort(-vals, stable=True)
        return cls(idx[order].long(), vals[order], dict(meta or {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (see :meth:`from_dict`)."""
        return {"neurons": self.as_tuples(), "scores": self.scores.tolist(), "meta": self.meta}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NeuronSet:
        neurons = torch.tensor(data["neurons"], dtype=torch.long).reshape(-1, 2)
        return cls(neurons, torch.tensor(data["scores"], dtype=torch.float32), dict(data.get("meta", {})))


@runtime_checkable
class AttributionProvider(Protocol):
    """Per-query neuron attributions, computed once and shared (see ``provider.py``)."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(L, N)``: layers and neurons per layer."""
        ...

    def attribute(
        self, query: ClozeQuery, method: str = "saig", *, steps: int | None = None, normalized: bool = True
    ) -> torch.Tensor:
        """``[L, N]`` float32 CPU scores of ``query`` (``normalized``: per layer, Eq. 5;
        else the raw sums). ``steps=None`` is the provider's default."""
        ...


@runtime_checkable
class Localizer(Protocol):
    """Selects a fact's neurons. Register a factory (usually the class) with
    ``@register("localizer", "my-name")``; its keyword arguments are the options."""

    def localize(self, fact: Fact, provider: AttributionProvider) -> NeuronSet: ...


# ---- building localizers from options (CLI: --localizer-option key=value) -------------------


def _coerce(value: Any, tp: Any, what: str) -> Any:
    """Convert a CLI string ``value`` to the annotated type ``tp`` (non-strings pass)."""
    if not isinstance(value, str):
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and value.strip().lower() in ("none", "null", ""):
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, what)
            except ValueError:
                continue
        raise ValueError(f"option {what}: cannot read {value!r} as {tp}")
    if origin is tuple:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        return tuple(_coerce(p, args[0] if args else str, what) for p in parts)
    if tp is bool:
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"option {what}: expected a boolean, got {value!r}")
    if tp in (int, float):
        try:
            return tp(value)
        except ValueError:
            raise ValueError(f"option {what}: expected {tp.__name__}, got {value!r}") from None
    return value


def build_localizer(name: str, options: Mapping[str, Any] | None = None) -> Localizer:
    """Look ``name`` up in the registry and build it with ``options``.

    String values (from the CLI) are converted to the types of a dataclass localizer's
    fields (``"0.5"`` -> 0.5, ``"en,zh"`` -> ``("en", "zh")``, ``"none"`` -> None); an
    unknown option raises ValueError listing the valid ones.
    """
    from harness.registry import get

    factory = get("localizer", name)
    opts = dict(options or {})
    if dataclasses.is_dataclass(factory) and isinstance(factory, type):
        hints = typing.get_type_hints(factory)
        fields = {f.name for f in dataclasses.fields(factory) if f.init}
        unknown = sorted(set(opts) - fields)
        if unknown:
            raise ValueError(
                f"localizer {name!r}: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(sorted(fields)) or '(none)'}"
            )
        opts = {k: _coerce(v, hints[k], f"{name}.{k}") for k, v in opts.items()}
    obj = factory(**opts)
    if not callable(getattr(obj, "localize", None)):
        raise TypeError(f"localizer {name!r}: {type(obj).__name__} has no localize(fact, provider)")
    return obj


def options_of(localizer: Any) -> dict[str, Any]:
    """A dataclass localizer's options as a JSON-able dict (for logs and ``meta``)."""
    if not dataclasses.is_dataclass(localizer):
        return {}
    out = {}
    for f in dataclasses.fields(localizer):
        v = getattr(localizer, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    json.dumps(out)  # fail early on a non-JSON-able option
    return out
