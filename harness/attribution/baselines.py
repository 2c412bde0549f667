"""The passes that read target-position activations off whole sentences: the real query
(``w``) and the SAIG/AMIG baseline sentences (``w'_i``, one query token replaced by ⟨PAD⟩).

Every method that needs them gets them from here, so a query attributed with SAIG, IG and
AMIG runs each sentence once: body only (no LM head), one sentence per pass, and each pass
gives every layer at once. For causal models the sentence is the prompt up to the target
position (later tokens cannot change the target activation), so a query's first-token and
full-object variants share their passes too.

The sentences are deliberately *not* stacked into one batch: a batched matmul rounds
differently (~3e-7 here), and ``w − w'_i`` is small when token ``i`` barely moves the target
activation, so the rounding would show up as ~1e-5 relative noise in the scores and make
them depend on the batch size. ``w`` and every ``w'_i`` come from passes of the same shape.

Results are kept per adapter for the last few sentences (``MEMO_SIZE``), keyed by the token
ids, and dropped when the weights change (any parameter's in-place version counter, device
or dtype) or bypassed while a hook sits on an FFN output projection (an intervention would
change the activations).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import torch

from harness.attribution.query import EncodedQuery

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

MEMO_SIZE = 64  # sentences per adapter: a fact's queries in every language fit
_MEMO: weakref.WeakKeyDictionary[Any, tuple[tuple, OrderedDict]] = weakref.WeakKeyDictionary()


def _weights_state(adapter: ModelAdapter) -> tuple:
    params = list(adapter.model.parameters())
    return (str(params[0].device), str(params[0].dtype), tuple(p._version for p in params))


def _hooked(adapter: ModelAdapter) -> bool:
    for layer in range(adapter.n_layers):
        proj = adapter.ffn_output_projection(layer)
        if proj._forward_pre_hooks or proj._forward_hooks:
            return True
    return False


@torch.no_grad()
def _activations(adapter: ModelAdapter, input_ids: torch.Tensor, position: int) -> torch.Tensor:
    """``[L, N]`` float32: every layer's neuron activations at ``position`` (one body pass)."""
    with adapter.capture() as acts:
        adapter.forward_body(input_ids[None].to(adapter.device))
    return torch.stack([acts[layer][0, position] for layer in range(adapter.n_layers)]).float()


def sentence_activations(adapter: ModelAdapter, input_ids: torch.Tensor, position: int) -> torch.Tensor:
    """:func:`_activations`, memoized (see the module docstring). Do not modify the result."""
    if _hooked(adapter):
        return _activations(adapter, input_ids, position)
    state = _weights_state(adapter)
    try:
        held_state, memo = _MEMO[adapter]
    except (KeyError, TypeError):  # TypeError: an adapter that cannot be weakly referenced
        held_state, memo = None, OrderedDict()
    if held_state != state:
        memo = OrderedDict()
    key = (tuple(input_ids.tolist()), position)
    out = memo.get(key)
    if out is None:
        out = _activations(adapter, input_ids, position)
        memo[key] = out
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    else:
        memo.move_to_end(key)
    try:
        _MEMO[adapter] = (state, memo)
    except TypeError:
        pass
    return out


def sentence_ids(enc: EncodedQuery) -> torch.Tensor:
    """The sentence whose target activations are read: the prompt (causal) or the whole
    masked input."""
    return enc.input_ids[: enc.prompt_length] if enc.is_causal else enc.input_ids


def real_activations(adapter: ModelAdapter, enc: EncodedQuery) -> torch.Tensor:
    """``w``: ``[L, N]`` float32 at the target position of the real query."""
    return sentence_activations(adapter, sentence_ids(enc), enc.target_position)


def baseline_activations(adapter: ModelAdapter, enc: EncodedQuery) -> torch.Tensor:
    """``[T', L, N]`` float32: ``w'_i`` for each of the query's own tokens ``i``, the
    sentence with ``x_i`` replaced by ⟨PAD⟩ (eos for causal models, the mask token for
    masked ones; Eq. 2–3)."""
    if len(enc.token_positions) == 0:
        raise ValueError("SAIG and AMIG need at least one non-special query token")
    ids = sentence_ids(enc)
    out = []
    for pos in enc.token_positions.tolist():
        sentence = ids.clone()
        sentence[pos] = adapter.baseline_token_id  # x_i -> <PAD>
        out.append(sentence_activations(adapter, sentence, enc.target_position))
    return torch.stack(out)  # [T', L, N]
