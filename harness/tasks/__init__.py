"""Tasks: what a localizer's neurons do. Importing this package registers the built-ins
(registry kind ``task``); see ``docs/tasks.md`` for the contract and a plugin example."""

from harness.tasks import (  # noqa: F401
    ablation,
    budget,
    cross_language,
    edit,
    ground_truth,
    inject,
    layer_distribution,
    low_resource,
    suppress_enhance,
)
from harness.tasks.base import Task, TaskContext, build_task, by_layer, manipulated, neuron_pairs
from harness.tasks.output import Count, Figure, Language, Metric, Output, Rate

__all__ = [
    "Count",
    "Figure",
    "Language",
    "Metric",
    "Output",
    "Rate",
    "Task",
    "TaskContext",
    "build_task",
    "by_layer",
    "manipulated",
    "neuron_pairs",
]
