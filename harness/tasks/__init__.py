"""Built-in tasks; importing this package registers them (registry kind ``task``)."""

from harness.tasks import ablation, layer_distribution, suppress_enhance  # noqa: F401
from harness.tasks.base import Task, TaskContext, by_layer, manipulated, neuron_pairs

__all__ = ["Task", "TaskContext", "by_layer", "manipulated", "neuron_pairs"]
