"""The task contract: measure what a localizer's neurons do, fact by fact.

A task's ``evaluate`` sees one fact, the neuron sets every localizer chose for it, and a
:class:`TaskContext` (the model adapter and run options), and returns flat records (dicts).
Its ``summarize`` turns all records of a run into table rows. Records are stored per fact,
so a resumed run recomputes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from harness.data import Fact


@dataclass
class TaskContext:
    adapter: Any  # harness.adapters.ModelAdapter
    model_name: str
    correct_only: bool = True  # ΔP over the queries the model answers correctly
    seed: int = 0
    batch_size: int = 16
    options: dict[str, Any] = field(default_factory=dict)  # task-specific options
    cache: dict[str, Any] = field(default_factory=dict)  # per-fact scratch shared by tasks


@runtime_checkable
class Task(Protocol):
    """A task may also declare ``options: dict[str, str]`` (``TaskContext.options`` keys it
    reads → help text): ``rml-eval --task-option KEY=VALUE`` accepts exactly those keys."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]  # localizers this task needs besides the chosen ones

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, Any]) -> list[dict]:
        """Records for one fact; ``neurons`` maps localizer name → its neuron set."""
        ...

    def summarize(self, records: Sequence[dict]) -> list[dict]:
        """Table rows from all records of a run."""
        ...


def check_task_options(tasks: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """Refuse an option that none of ``tasks`` (name → task) declares, listing valid keys."""
    valid = {key: name for name, task in tasks.items() for key in getattr(task, "options", {})}
    unknown = sorted(set(options) - set(valid))
    if unknown:
        choices = ", ".join(sorted(valid)) or "none"
        raise ValueError(
            f"task option {unknown[0]!r} is not read by the selected tasks ({', '.join(tasks)}); "
            f"valid options: {choices}"
        )
    _check_option_types(tasks, options)


_NUMERIC_DEFAULT = re.compile(r"\(default (-?\d+(?:\.\d*)?(?:e-?\d+)?)\)")


def _check_option_types(tasks: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """A value must have the type of the option's numeric default (read from its help
    text), so ``inject_steps=abc`` is refused before the run starts, not on its first fact."""
    helps = {key: text for task in tasks.values() for key, text in getattr(task, "options", {}).items()}
    for key, value in options.items():
        m = _NUMERIC_DEFAULT.search(helps.get(key, ""))
        if m is None:
            continue
        want = float if any(c in m.group(1) for c in ".e") else int
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and (want is float or float(value).is_integer()))
        if not ok:
            raise ValueError(f"task option {key}: expected {'a number' if want is float else 'an integer'}, "
                             f"got {value!r}")


def neuron_pairs(neuron_set: Any) -> list[tuple[int, int]]:
    """``[(layer, index), ...]`` from a neuron set (``.neurons`` as a [K, 2] tensor or pairs)."""
    neurons = getattr(neuron_set, "neurons", neuron_set)
    if isinstance(neurons, torch.Tensor):
        return [(int(a), int(b)) for a, b in neurons.reshape(-1, 2).tolist()]
    return [(int(a), int(b)) for a, b in neurons]


def by_layer(neuron_set: Any) -> dict[int, torch.Tensor]:
    """``{layer: neuron indices}`` for ``adapter.intervene``."""
    out: dict[int, list[int]] = {}
    for layer, idx in neuron_pairs(neuron_set):
        out.setdefault(layer, []).append(idx)
    return {layer: torch.tensor(sorted(set(ix))) for layer, ix in out.items()}


@contextmanager
def manipulated(adapter: Any, neuron_set: Any, mode: str, value: float) -> Iterator[None]:
    """Set (``mode="set"``) or scale (``"scale"``) the set's neurons at the target position."""
    spec = {layer: (idx, mode, value) for layer, idx in by_layer(neuron_set).items()}
    if not spec:
        yield
        return
    with adapter.intervene(spec, positions="target"):
        yield


def mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")
