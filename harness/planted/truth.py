"""The ground truth of a planted model: which neurons hold which fact, of which kind.

Saved as ``truth.json`` beside the planted model's weights::

    {"base": "tiny-gpt", "facts": [{"uuid": ..., "relation": ..., "scored": true,
      "failed": [], "neurons": [{"layer": 3, "index": 17, "kind": "agnostic",
      "languages": ["zh", "en", ...], "threshold": 2.1, "key_capped": false}, ...]}],
     "checks": {...}, "distributions": {...}, "planting": {...}}

Kinds: ``agnostic`` (fires on the fact in every language and raises the answer),
``language`` (fires in one language only and raises the answer there), ``decoy`` (fires on
the fact in every language; its value is orthogonal to the answer). A fact is ``scored``
when it passed every per-fact check (``failed`` lists the checks it did not pass). A
language neuron or decoy found not firing on its fact is marked ``silent`` and is not
truth of its kind (an agnostic one fails its fact instead).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("agnostic", "language", "decoy")
TRUTH_FILE = "truth.json"


@dataclass
class PlantedNeuron:
    layer: int
    index: int
    kind: str  # one of KINDS
    languages: list[str]  # the languages its key was fitted to fire in
    threshold: float = 0.0  # pre-activation above which it counts as firing
    key_capped: bool = False  # the key-norm cap bound (pre-activations below target)
    # a language neuron or decoy that does not fire on its fact after planting (checks.py):
    # its rows stay in the model, but it is no longer truth of its kind
    silent: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"planted neuron kind must be one of {KINDS}, got {self.kind!r}")


@dataclass
class PlantedFact:
    uuid: str
    relation: str
    neurons: list[PlantedNeuron]
    scored: bool = True  # passed the per-fact checks
    failed: list[str] = field(default_factory=list)  # names of the checks it failed

    def of_kind(self, kind: str) -> set[tuple[int, int]]:
        """The fact's neurons of ``kind`` that the checks found firing on it (not silent)."""
        return {(n.layer, n.index) for n in self.neurons if n.kind == kind and not n.silent}


@dataclass
class GroundTruth:
    base: str
    facts: list[PlantedFact]
    checks: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Any] = field(default_factory=dict)
    planting: dict[str, Any] = field(default_factory=dict)

    def fact(self, uuid: str) -> PlantedFact | None:
        return next((f for f in self.facts if f.uuid == uuid), None)

    def scored_facts(self) -> list[str]:
        return [f.uuid for f in self.facts if f.scored]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        facts = [
            PlantedFact(
                f["uuid"],
                f.get("relation", ""),
                [PlantedNeuron(**n) for n in f["neurons"]],
                f.get("scored", True),
                list(f.get("failed", [])),
            )
            for f in data["facts"]
        ]
        return cls(
            data["base"],
            facts,
            data.get("checks", {}),
            data.get("distributions", {}),
            data.get("planting", {}),
        )

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file, then rename)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=".truth.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        path = Path(path)
        if path.is_dir():
            path = path / TRUTH_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path.parent} has no {TRUTH_FILE}: it is not a planted model")
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: not a valid ground-truth file ({type(e).__name__}: {e})") from None
