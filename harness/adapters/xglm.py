"""XGLM family: causal LMs with the FFN inside the decoder layer.

``layer`` computes ``fc2(act(fc1(final_layer_norm(x))))`` (plus the residual); there is no
MLP submodule. The neurons are the **input of ``fc2``** (post-activation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harness.adapters.base import ModelAdapter, NeuronParameter, register_adapter


@register_adapter
class XGLMAdapter(ModelAdapter):
    model_types = ("xglm",)
    is_causal = True
    family = "XGLM"

    def blocks(self) -> Sequence[Any]:  # submodules are reached by name
        return self.model.model.layers

    def ffn_output_projection(self, layer: int) -> nn.Module:
        return self.blocks()[layer].fc2

    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        return self.blocks()[layer].fc2.weight.T  # nn.Linear [D, N] -> view [N, D]

    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        fc1 = self.blocks()[layer].fc1
        return [
            NeuronParameter("fc1.weight", fc1.weight, dim=0),  # [N, D]
            NeuronParameter("fc1.bias", fc1.bias, dim=0),  # [N]
        ]
