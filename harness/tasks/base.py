"""The task contract: measure what a localizer's neurons do, fact by fact.

A task is a dataclass registered with ``@register("task", name)``; its init fields are its
options (``rml-eval --task-option TASK.KEY=VALUE``, converted to the field types as
localizer options are, :mod:`harness.options`). Its ``evaluate`` sees one fact, the neuron
set each localizer chose for it, and a :class:`TaskContext` (the model, the dataset's facts,
the run's settings), and returns flat records (dicts). Its ``summarize`` turns all records
of a run into summary rows of its declared row type, and its ``output``
(:class:`harness.tasks.output.Output`) says which fields are metrics and how tables and
figures show them. Records are stored per fact, so a resumed run recomputes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch

from harness.data import Fact, FactPool
from harness.tasks.output import Output

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter
    from harness.localizers.base import AttributionProvider, Localizer, NeuronSet
    from harness.models.loading import LoadedModel
    from harness.models.splits import Splits


@dataclass
class TaskContext:
    """What a task sees besides the fact and the neuron sets: set once per run."""

    adapter: ModelAdapter
    pool: FactPool = field(default_factory=FactPool)  # every fact of the run's dataset
    facts: Sequence[Fact] = ()  # the run's facts
    model: LoadedModel | None = None  # what was loaded (spec, tokenizer); None in unit tests
    splits: Splits | None = None  # a tiny model's known/high-resource-only/held-out facts
    correct_only: bool = True  # ΔP over the queries the model answers correctly
    seed: int = 0
    batch_size: int = 16
    cache: dict[str, Any] = field(default_factory=dict)  # per-fact scratch shared by tasks
    # for tasks that re-rank or re-localize a fact (fixed-k budgets, the cross-language matrix):
    # the run's attribution provider and localizers; None/empty in unit tests
    provider: AttributionProvider | None = None
    localizers: Mapping[str, Localizer] = field(default_factory=dict)
    chosen: tuple[str, ...] | None = None  # the localizers the user chose (None: every set given)


@runtime_checkable
class Task(Protocol):
    """A registered task class; its dataclass init fields are its options."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]  # localizers this task needs besides the chosen ones
    output: ClassVar[Output]  # its summary row type, metrics and figures

    def evaluate(self, ctx: TaskContext, fact: Fact, neurons: Mapping[str, NeuronSet]) -> list[dict]:
        """Records for one fact; ``neurons`` maps localizer name → its neuron set."""
        ...

    def summarize(self, records: Sequence[dict]) -> Sequence[Mapping[str, Any]]:
        """Summary rows (of ``output.row``) from all records of a run."""
        ...


def build_task(name: str, options: Mapping[str, Any] | None = None) -> Task:
    """The registered task ``name`` built with ``options`` (CLI strings are converted to the
    field types); an unknown option raises ValueError listing the valid ones."""
    from harness.options import build
    from harness.registry import get

    try:
        task = build("task", name, get("task", name), options)
    except TypeError as e:  # a plain class refusing its keyword arguments
        raise ValueError(f"--task-option: task {name!r}: {e}") from None
    if not isinstance(getattr(type(task), "output", None), Output):
        raise ValueError(
            f"task {name!r}: {type(task).__name__} declares no `output = Output(...)` (see docs/tasks.md)"
        )
    return task


def flat_option_hint(key: str) -> str:
    """For an option given without its task (the old ``KEY=VALUE`` form): the ``TASK.KEY``
    spellings it may mean, e.g. ``inject_steps`` → ``inject.steps``."""
    from harness.options import option_fields
    from harness.registry import entries

    found = [
        f"{e.name}.{opt}"
        for e in entries("task")
        for opt in option_fields(e.obj)
        if key == opt or key.endswith(f"_{opt}")
    ]
    return f"; did you mean {' or '.join(found)}?" if found else ""


def neuron_pairs(neuron_set: NeuronSet) -> list[tuple[int, int]]:
    """``[(layer, index), ...]`` from a neuron set (``.neurons``, a [K, 2] tensor)."""
    return [(int(a), int(b)) for a, b in neuron_set.neurons.reshape(-1, 2).tolist()]


def by_layer(neuron_set: NeuronSet) -> dict[int, torch.Tensor]:
    """``{layer: neuron indices}`` for ``adapter.intervene``."""
    out: dict[int, list[int]] = {}
    for layer, idx in neuron_pairs(neuron_set):
        out.setdefault(layer, []).append(idx)
    return {layer: torch.tensor(sorted(set(ix))) for layer, ix in out.items()}


@contextmanager
def manipulated(adapter: ModelAdapter, neuron_set: NeuronSet, mode: str, value: float) -> Iterator[None]:
    """Set (``mode="set"``) or scale (``"scale"``) the set's neurons at the target position."""
    spec = {layer: (idx, mode, value) for layer, idx in by_layer(neuron_set).items()}
    if not spec:
        yield
        return
    with adapter.intervene(spec, positions="target"):
        yield


def mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")
