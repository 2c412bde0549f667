"""BLOOM family (BLOOM, BLOOMZ): causal LMs with ALiBi attention.

``block.mlp`` computes ``dense_4h_to_h(gelu(dense_h_to_4h(x)))`` (plus the residual). The
neurons are the **input of ``mlp.dense_4h_to_h``** (post-GeLU).

Quirks:

* with ``pretraining_tp > 1`` and ``slow_but_exact`` the MLP slices ``dense_4h_to_h``'s
  weight and calls ``F.linear`` itself, so no hook on the module would ever fire; such a
  config is refused (the released checkpoints have ``slow_but_exact = False``);
* the ALiBi bias is built per batch row (``[B · heads, 1, kv]``), so when the causal engine
  grows the batch inside the stack, :meth:`block_inputs_for_rows` repeats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harness.adapters.base import ModelAdapter, NeuronParameter, register_adapter


@register_adapter
class BloomAdapter(ModelAdapter):
    model_types = ("bloom",)
    is_causal = True
    family = "BLOOM"

    def __init__(self, model: nn.Module, tokenizer: Any) -> None:
        config = model.config
        if getattr(config, "pretraining_tp", 1) > 1 and getattr(config, "slow_but_exact", False):
            raise ValueError(
                "BLOOM with slow_but_exact=True and pretraining_tp > 1 bypasses mlp.dense_4h_to_h, "
                "so its neurons cannot be hooked; load it with slow_but_exact=False"
            )
        super().__init__(model, tokenizer)

    def blocks(self) -> Sequence[Any]:  # submodules are reached by name
        return self.model.transformer.h

    def ffn_output_projection(self, layer: int) -> nn.Module:
        return self.blocks()[layer].mlp.dense_4h_to_h

    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        return self.blocks()[layer].mlp.dense_4h_to_h.weight.T  # nn.Linear [D, N] -> view [N, D]

    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        dense = self.blocks()[layer].mlp.dense_h_to_4h
        return [
            NeuronParameter("dense_h_to_4h.weight", dense.weight, dim=0),  # [N, D]
            NeuronParameter("dense_h_to_4h.bias", dense.bias, dim=0),  # [N]
        ]

    def block_inputs_for_rows(self, args: tuple, kwargs: dict[str, Any], rows: int) -> tuple[tuple, dict]:
        args, kwargs = super().block_inputs_for_rows(args, kwargs, rows)
        alibi = kwargs.get("alibi")  # [rows · heads, 1, kv], built for one row
        heads = self.model.config.n_head
        if alibi is not None and alibi.shape[0] != rows * heads:
            if alibi.shape[0] != heads:
                shape = tuple(alibi.shape)
                raise RuntimeError(f"expected an ALiBi bias for one row ({heads} heads), got {shape}")
            kwargs = {**kwargs, "alibi": alibi.repeat(rows, 1, 1)}
        return args, kwargs
