"""What the FFNs see and do at the target position of many queries.

Planting writes a neuron's key (the weights and bias that compute its pre-activation from
the FFN input) and its value (its row of the output projection). Both are fitted on the
FFN input ``x`` at the query's target position, read here with a forward pre-hook on the
module that owns the key weights. The same pass records the real neurons' activations,
which give the natural ranges the planted neurons must stay within, and each block's output
(the residual stream, where planted relay neurons write).

Shapes: ``Q`` queries, ``L`` layers, ``D`` FFN input width, ``N`` neurons per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from harness.attribution.query import ClozeQuery, EncodedQuery, as_encoded
from harness.attribution.scoring import pad_batch

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter


@dataclass(frozen=True)
class KeyParams:
    """The key of every neuron of one layer: ``pre = x @ weight(neurons) + bias``.

    ``weight`` is the parameter whose ``dim`` axis is the neuron axis; ``module`` owns it
    (its input is the FFN input ``x``).
    """

    module: nn.Module
    weight: nn.Parameter
    weight_dim: int  # the neuron axis of `weight`
    bias: nn.Parameter | None

    def key(self, neuron: int) -> torch.Tensor:
        """``[D]`` view of the neuron's key weights (editable under no_grad)."""
        return self.weight.select(self.weight_dim, neuron)

    def keys(self) -> torch.Tensor:
        """``[N, D]`` (a view or a transposed view)."""
        return self.weight if self.weight_dim == 0 else self.weight.T


def key_params(adapter: ModelAdapter, layer: int) -> KeyParams:
    """The key parameters of ``layer``, or a ValueError for FFNs planting does not support
    (gated MLPs such as Llama's compute a neuron from two weight rows)."""
    params = adapter.neuron_input_parameters(layer)
    weights = [p for p in params if p.parameter.dim() == 2]
    biases = [p for p in params if p.parameter.dim() == 1]
    if len(weights) != 1 or len(biases) > 1:
        raise ValueError(
            f"planting needs an FFN whose neurons are act(x @ W + b) (GPT-2, BERT families); "
            f"{adapter.family or adapter.model_type} layer {layer} has "
            f"{', '.join(p.name for p in params)} (a gated MLP is not supported yet)"
        )
    w = weights[0]
    owner = next((m for m in adapter.model.modules() if getattr(m, "weight", None) is w.parameter), None)
    if owner is None:
        raise ValueError(f"cannot find the module that owns {w.name}")
    return KeyParams(owner, w.parameter, w.dim, biases[0].parameter if biases else None)


def value_rows(adapter: ModelAdapter, layer: int) -> tuple[nn.Parameter, int]:
    """The output-projection parameter of ``layer`` and its neuron axis (so that a gradient
    mask can be built on the parameter itself)."""
    view = adapter.neuron_output_weights(layer)  # [N, D], a view of the parameter
    param: nn.Parameter = adapter.ffn_output_projection(layer).weight  # type: ignore[assignment]
    if param.data_ptr() != view.data_ptr():
        raise ValueError("the output projection's weight is not what neuron_output_weights views")
    n = adapter.n_neurons
    dim = 0 if tuple(param.shape) == tuple(view.shape) and param.stride() == view.stride() else 1
    if param.shape[dim] != n:
        raise ValueError(f"cannot find the neuron axis of the output projection {tuple(param.shape)}")
    return param, dim


@dataclass
class Features:
    """FFN inputs and neuron activations at the target position of each query."""

    x: torch.Tensor  # [Q, L, D] float32: FFN input
    act: torch.Tensor  # [Q, L, N] float32: neuron activations (what the output projection reads)
    correct: torch.Tensor  # [Q] bool: top-1 at the first answer position is the object's first token
    h: torch.Tensor | None = None  # [Q, L, D] float32: each block's output (the residual stream after it)
    # [M, L, D] float32: FFN inputs at other (non-target, non-padding) positions, up to
    # ``context`` per query (collect(context=...)); None when not asked for
    ctx: torch.Tensor | None = None
    ctx_of: torch.Tensor | None = None  # [M] long: the query each context row comes from


def context_positions(length: int, target: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """Up to ``k`` of a query's positions ``0..length-1`` other than ``target`` (all of them
    when there are at most ``k``; else a seeded random choice), ascending."""
    others = torch.tensor([p for p in range(length) if p != target], dtype=torch.long)
    if len(others) <= k:
        return others
    return others[torch.randperm(len(others), generator=gen)[:k]].sort().values


@torch.no_grad()
def collect(
    adapter: ModelAdapter,
    queries: Sequence[ClozeQuery | EncodedQuery],
    batch_size: int = 64,
    context: int = 0,
    seed: int = 0,
) -> Features:
    """Run every query once and keep the target-position FFN inputs and activations.

    ``context > 0``: also the FFN inputs at up to ``context`` other positions per query
    (seeded choice, ``Features.ctx``). The FFN runs at every position; in a masked LM the
    target is the [MASK] token, so keys fitted on target positions alone say nothing about
    how a neuron behaves on the ordinary tokens around it."""
    keys = [key_params(adapter, layer) for layer in range(adapter.n_layers)]
    encoded = [as_encoded(adapter, q, False) for q in queries]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))  # less padding
    xs, acts, correct, hs, ctxs, ctx_of = [], [], [], [], [], []
    gen = torch.Generator().manual_seed(seed)
    blocks = adapter.blocks()
    for start in range(0, len(encoded), batch_size):
        batch = [encoded[i] for i in order[start : start + batch_size]]
        ids, mask, pos, ans = pad_batch(adapter, batch)
        targets = torch.tensor([e.target_position for e in batch], device=adapter.device)
        rows = torch.arange(len(batch), device=adapter.device)
        store: dict[int, torch.Tensor] = {}
        out_store: dict[int, torch.Tensor] = {}
        ctx_store: dict[int, torch.Tensor] = {}
        crow = cpos = None  # the context positions' batch rows and positions [M]
        if context > 0:
            picked = [context_positions(len(e.input_ids), e.target_position, context, gen) for e in batch]
            crow = torch.cat([torch.full((len(p),), b, dtype=torch.long) for b, p in enumerate(picked)])
            cpos = torch.cat(picked)
            ctx_of.append(torch.tensor(order[start : start + batch_size])[crow])
            crow, cpos = crow.to(adapter.device), cpos.to(adapter.device)
        handles = []
        for layer, kp in enumerate(keys):

            def hook(
                _m: nn.Module,
                args: tuple,
                layer: int = layer,
                store: dict = store,
                rows: torch.Tensor = rows,
                targets: torch.Tensor = targets,
                crow: torch.Tensor | None = crow,
                cpos: torch.Tensor | None = cpos,
                ctx_store: dict = ctx_store,
            ) -> None:
                store[layer] = args[0][rows, targets].float()
                if crow is not None:
                    ctx_store[layer] = args[0][crow, cpos].float()

            def out_hook(
                _m: nn.Module,
                _args: tuple,
                out: object,
                layer: int = layer,
                store: dict = out_store,
                rows: torch.Tensor = rows,
                targets: torch.Tensor = targets,
            ) -> None:
                h = out[0] if isinstance(out, tuple) else out
                store[layer] = h[rows, targets].float()  # type: ignore[index]

            handles.append(kp.module.register_forward_pre_hook(hook))
            handles.append(blocks[layer].register_forward_hook(out_hook))
        try:
            with adapter.targeting(targets), adapter.capture() as cap:
                logits, _ = adapter.forward(ids, attention_mask=mask)
        finally:
            for handle in handles:
                handle.remove()
        xs.append(torch.stack([store[layer] for layer in range(adapter.n_layers)], 1).cpu())
        acts.append(
            torch.stack([cap[layer][rows, targets].float() for layer in range(adapter.n_layers)], 1).cpu()
        )
        correct.append((logits[rows, pos[:, 0]].argmax(-1) == ans[:, 0]).cpu())
        hs.append(torch.stack([out_store[layer] for layer in range(adapter.n_layers)], 1).cpu())
        if context > 0:
            ctxs.append(torch.stack([ctx_store[layer] for layer in range(adapter.n_layers)], 1).cpu())
    if not encoded:
        raise ValueError("no queries to collect features from")
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))  # sorted position of each query
    return Features(
        torch.cat(xs)[back],
        torch.cat(acts)[back],
        torch.cat(correct)[back],
        torch.cat(hs)[back],
        torch.cat(ctxs) if ctxs else None,
        torch.cat(ctx_of) if ctx_of else None,
    )


def pre_activations(adapter: ModelAdapter, x: torch.Tensor, layer: int) -> torch.Tensor:
    """``[Q, N]`` pre-activations of ``layer``'s neurons from FFN inputs ``x [Q, D]``."""
    kp = key_params(adapter, layer)
    pre = x.to(kp.weight.dtype).to(kp.weight.device) @ kp.keys().T
    if kp.bias is not None:
        pre = pre + kp.bias
    return pre.float().cpu()
