"""What the engine skips and shares: causal rows start at their own block; the sentence
passes (real query and baselines) are run once per query for every method, and rerun when
the weights change."""

from __future__ import annotations

import torch

from harness.attribution import attribute, encode_query
from harness.attribution import baselines as shared
from harness.localizers.amig import amig_attribution

from .conftest import MULTI, SINGLE


def _block_batches(adapter):
    """Record the batch size every block sees: {layer: [rows, ...]}."""
    seen = {layer: [] for layer in range(adapter.n_layers)}
    handles = [
        block.register_forward_pre_hook(lambda _m, args, layer=layer: seen[layer].append(args[0].shape[0]))
        for layer, block in enumerate(adapter.blocks())
    ]
    return seen, handles


def test_causal_rows_start_at_their_own_block(make_adapter):
    adapter = make_adapter("gpt2", n_layer=3)
    enc = encode_query(adapter, SINGLE)
    attribute(adapter, enc, "ig", steps=5)  # fill the sentence memo: only the rows are left
    seen, handles = _block_batches(adapter)
    try:
        attribute(adapter, enc, "ig", steps=5, max_rows=256)
    finally:
        for h in handles:
            h.remove()
    # the last pass is the chunk: block l receives the carrier row and the 5 rows of each layer
    # below l (its own rows join inside, after this hook); before the change every block saw 16
    assert [s[-1] for s in seen.values()] == [1, 1 + 5, 1 + 10]


def test_sentence_passes_are_shared_between_methods(make_adapter):
    adapter = make_adapter("gpt2")
    enc = encode_query(adapter, MULTI, full_object=True)
    calls = []
    original = shared._activations

    def counting(*args):
        calls.append(1)
        return original(*args)

    shared._MEMO.clear()
    try:
        shared._activations = counting
        attribute(adapter, enc, "saig", steps=3, full_object=True)
        first = len(calls)
        assert first == len(enc.token_positions) + 1  # the baselines and the real query
        amig_attribution(adapter, MULTI, steps=3, full_object=True)
        attribute(adapter, SINGLE, "ig", steps=3)  # another query: its own real pass
        assert len(calls) == first + 1
    finally:
        shared._activations = original


def test_memo_follows_weight_edits_and_hooks(make_adapter):
    adapter = make_adapter("llama")
    enc = encode_query(adapter, SINGLE)
    before = shared.baseline_activations(adapter, enc).clone()
    with torch.no_grad():
        adapter.neuron_input_parameters(0)[0].parameter.mul_(2.0)  # an in-place edit of layer 0
    after = shared.baseline_activations(adapter, enc)
    fresh = torch.stack(
        [
            shared._activations(adapter, s, enc.target_position)
            for s in [
                enc.input_ids.clone().index_fill_(0, torch.tensor([p]), adapter.baseline_token_id)
                for p in enc.token_positions.tolist()
            ]
        ]
    )
    assert not torch.allclose(before, after) and torch.equal(after, fresh)
    # under an intervention the memo is bypassed: the activations are the intervened ones
    with adapter.intervene({0: (torch.arange(adapter.n_neurons), "set", 0.0)}, positions=None):
        zeroed = shared.real_activations(adapter, enc)
    assert (zeroed[0] == 0).all() and not (shared.real_activations(adapter, enc)[0] == 0).all()


def test_masked_rows_start_after_their_own_block(make_adapter):
    adapter = make_adapter("bert", num_hidden_layers=3)
    enc = encode_query(adapter, SINGLE)
    attribute(adapter, enc, "ig", steps=5)  # fill the sentence memo
    seen = {layer: [] for layer in range(adapter.n_layers)}
    handles = [  # the attention sub-layer: run_block(positions=) calls it, not the block
        block.attention.register_forward_pre_hook(
            lambda _m, a, layer=layer: seen[layer].append(a[0].shape[0])
        )
        for layer, block in enumerate(adapter.blocks())
    ]
    try:
        attribute(adapter, enc, "ig", steps=5, max_rows=256)
    finally:
        for h in handles:
            h.remove()
    # the real query (one row) runs every block; then block l sees only the 5 rows of each
    # layer below l: the rows of layer l join at its output, so block 0 runs no row at all
    assert [s[1:] for s in seen.values()] == [[], [5], [10]]


def test_masked_block_pieces_equal_the_whole_block(make_adapter):
    """The pieces the masked engine runs instead of whole blocks: the rest of a block after
    its neurons (ffn_output), and a block read at some positions only."""
    adapter = make_adapter("bert")
    ids = encode_query(adapter, SINGLE).input_ids[None].to(adapter.device)
    with torch.no_grad(), adapter.capture() as acts, adapter.capture_ffn_residuals() as residuals:
        states = adapter.hidden_states(ids)
    with torch.no_grad():
        for layer in range(adapter.n_layers):
            block_out = adapter.run_block(layer, states[layer])
            torch.testing.assert_close(block_out, states[layer + 1])
            rest = adapter.ffn_output(layer, acts[layer], residuals[layer])
            torch.testing.assert_close(rest, states[layer + 1])
            positions = torch.tensor([0, ids.shape[1] - 2], device=adapter.device)
            some = adapter.run_block(layer, states[layer], positions)
            torch.testing.assert_close(some, block_out[:, positions])
