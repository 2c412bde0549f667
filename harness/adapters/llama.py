"""LLaMA family (Llama 2/3, Mistral, Qwen2, Qwen3, Gemma, Gemma 2): gated MLPs.

``layer.mlp`` computes ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``. The neurons are the
**input of ``down_proj``**, i.e. after the gate product; not the output of ``gate_proj``
(which EasyEdit's KN hooks). Gemma and Gemma 2 have the same MLP under the same names (GeLU
instead of SiLU), so they are served here too; their other differences (embedding scale,
soft-capping, sliding windows, extra norms) are inside the blocks and the head, which the
engine runs as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harness.adapters.base import ModelAdapter, NeuronParameter, register_adapter


@register_adapter
class LlamaAdapter(ModelAdapter):
    model_types = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2")
    is_causal = True
    family = "LLaMA"
    prefix_attention = True

    def blocks(self) -> Sequence[Any]:
        return self.model.model.layers

    def ffn_output_projection(self, layer: int) -> nn.Module:
        return self.blocks()[layer].mlp.down_proj

    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        return self.blocks()[layer].mlp.down_proj.weight.T  # nn.Linear [D, N] -> view [N, D]

    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        mlp = self.blocks()[layer].mlp
        params = []
        for name in ("gate_proj", "up_proj"):
            lin = getattr(mlp, name)
            params.append(NeuronParameter(f"{name}.weight", lin.weight, dim=0))  # [N, D]
            if lin.bias is not None:
                params.append(NeuronParameter(f"{name}.bias", lin.bias, dim=0))  # [N]
        return params
