"""Built-in tasks; importing this package registers them (registry kind ``task``)."""

from harness.tasks import (  # noqa: F401
    ablation,
    edit,
    ground_truth,
    inject,
    layer_distribution,
    low_resource,
    suppress_enhance,
)
from harness.tasks.base import Task, TaskContext, by_layer, manipulated, neuron_pairs

__all__ = ["Task", "TaskContext", "by_layer", "manipulated", "neuron_pairs"]
