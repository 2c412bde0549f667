"""BERT family (BERT, mBERT, RoBERTa, XLM-R): masked LMs.

``layer.intermediate`` computes ``act(dense(x))`` and ``layer.output`` computes
``LayerNorm(dense(h) + x)``. The neurons are the **output of ``intermediate``**
(post-activation) = the input of ``output.dense``, as in Dai et al. (2022).

The attribution engine re-runs the encoder one block at a time from cached hidden states, so
this adapter also exposes :meth:`hidden_states`, :meth:`run_block` and :meth:`lm_logits`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from harness.adapters.base import ModelAdapter, NeuronParameter, register_adapter


@register_adapter
class BertAdapter(ModelAdapter):
    model_types = ("bert", "roberta", "xlm-roberta")
    is_causal = False
    family = "BERT"

    def __init__(self, model: nn.Module, tokenizer: object) -> None:
        super().__init__(model, tokenizer)
        # BertForMaskedLM has `cls`; (XLM-)RobertaForMaskedLM has `lm_head`.
        head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
        if head is None:
            raise ValueError(
                f"{type(model).__name__} has no masked-LM head; load it with AutoModelForMaskedLM"
            )
        self._head = head

    def blocks(self) -> Sequence[Any]:
        return self.model.base_model.encoder.layer

    def ffn_output_projection(self, layer: int) -> nn.Module:
        return self.blocks()[layer].output.dense

    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        return self.blocks()[layer].output.dense.weight.T  # nn.Linear [D, N] -> view [N, D]

    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        dense = self.blocks()[layer].intermediate.dense
        return [
            NeuronParameter("intermediate.dense.weight", dense.weight, dim=0),  # [N, D]
            NeuronParameter("intermediate.dense.bias", dense.bias, dim=0),  # [N]
        ]

    # ---- block-by-block execution (used by the masked attribution engine) -----------------

    def hidden_states(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """The input of every block for an unpadded batch: ``L + 1`` tensors ``[B, S, D]``;
        entry ``l`` feeds block ``l`` and the last one feeds the LM head."""
        out = self.model.base_model(input_ids=input_ids, output_hidden_states=True)
        states = list(out.hidden_states)
        if len(states) != self.n_layers + 1:
            raise RuntimeError(f"expected {self.n_layers + 1} hidden states, got {len(states)}")
        return states

    def run_block(
        self, layer: int, hidden: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run block ``layer`` on unpadded ``hidden [B, S, D]`` (full attention, no mask).
        With ``positions`` ``[K]``, only those positions' outputs ``[B, K, D]``: the
        attention sub-layer runs everywhere (every position is a key), the FFN only there."""
        block = self.blocks()[layer]
        if positions is None:
            out = block(hidden)
            return out[0] if isinstance(out, tuple) else out
        attended = block.attention(hidden)[0][:, positions]  # [B, K, D]
        return block.output(block.intermediate(attended), attended)

    def ffn_output(self, layer: int, act: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``layer.output``: ``LayerNorm(dense(act) + residual)``, the residual being the
        attention sub-layer's output."""
        return self.blocks()[layer].output(act, residual)

    @contextmanager
    def capture_ffn_residuals(self) -> Iterator[dict[int, torch.Tensor]]:
        store: dict[int, torch.Tensor] = {}

        def hook(_module: nn.Module, args: tuple, layer: int) -> None:
            store[layer] = args[1]  # BertOutput.forward(hidden_states, input_tensor)

        handles = [
            block.output.register_forward_pre_hook(lambda m, a, layer=layer: hook(m, a, layer))
            for layer, block in enumerate(self.blocks())
        ]
        try:
            yield store
        finally:
            for h in handles:
                h.remove()

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The masked-LM head: ``[..., D] -> [..., V]``."""
        return self._head(hidden)
