"""GPT-2 family (GPT-2, mGPT).

``block.mlp`` computes ``c_proj(act(c_fc(x)))``. The neurons are the **output of
``mlp.act``** (= the input of ``c_proj``), not the output of ``c_fc``, which is the
pre-activation (the EleutherAI knowledge-neurons code hooks ``c_fc``).

Quirk: ``c_fc`` and ``c_proj`` are ``Conv1D`` layers whose weights are stored transposed
relative to ``nn.Linear``: ``c_fc.weight`` is ``[D, N]`` and ``c_proj.weight`` is ``[N, D]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harness.adapters.base import ModelAdapter, NeuronParameter, register_adapter


@register_adapter
class GPT2Adapter(ModelAdapter):
    model_types = ("gpt2",)
    is_causal = True
    family = "GPT-2"
    prefix_attention = True

    def blocks(self) -> Sequence[Any]:
        return self.model.transformer.h

    def ffn_output_projection(self, layer: int) -> nn.Module:
        return self.blocks()[layer].mlp.c_proj

    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        return self.blocks()[layer].mlp.c_proj.weight  # Conv1D: already [N, D]

    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        c_fc = self.blocks()[layer].mlp.c_fc
        return [
            NeuronParameter("c_fc.weight", c_fc.weight, dim=1),  # Conv1D: [D, N]
            NeuronParameter("c_fc.bias", c_fc.bias, dim=0),  # [N]
        ]
