"""Plain reference implementations of IG and SAIG, to check the fast engine against.

Deliberately naive and independent of ``harness.attribution.engine``: one layer at a time,
one baseline at a time, and every Riemann step a full forward and backward pass of the whole
model input, with a hook that replaces the neuron activation at the target position. It only
borrows from the harness the query encoding and which module's input is the neuron vector.
"""

from __future__ import annotations

import torch

from harness.attribution.query import EncodedQuery


def reference_probability(model: torch.nn.Module, enc: EncodedQuery, logits: torch.Tensor) -> torch.Tensor:
    """P(answer) from full-sequence logits [1, S, V]: product over the answer positions."""
    logp = torch.log_softmax(logits[0].float(), dim=-1)  # [S, V]
    total = torch.zeros((), dtype=torch.float32, device=logits.device)
    for pos, tok in zip(enc.answer_positions.tolist(), enc.answer_ids.tolist(), strict=True):
        total = total + logp[pos, tok]
    return total.exp()


def _activation_at_target(adapter, input_ids: torch.Tensor, position: int) -> torch.Tensor:
    """[L, N] float32: neuron activations at `position`, one hook per layer, one full pass."""
    acts = {}
    handles = []
    for layer in range(adapter.n_layers):

        def grab(_m, args, layer=layer):
            acts[layer] = args[0][0, position].detach().float().clone()

        handles.append(adapter.ffn_output_projection(layer).register_forward_pre_hook(grab))
    with torch.no_grad():
        adapter.model(input_ids=input_ids[None])
    for h in handles:
        h.remove()
    return torch.stack([acts[layer] for layer in range(adapter.n_layers)])


def reference_attribution(adapter, enc: EncodedQuery, method: str, steps: int) -> torch.Tensor:
    """Raw (unnormalized) IG or SAIG scores [L, N] float32."""
    model, ids, tp = adapter.model, enc.input_ids.to(adapter.device), enc.target_position
    real = _activation_at_target(adapter, ids, tp)  # w, [L, N]
    if method == "ig":
        baselines = [torch.zeros_like(real)]
    else:  # SAIG: the whole input with one query token replaced by <PAD>
        baselines = []
        for pos in enc.token_positions.tolist():
            changed = ids.clone()
            changed[pos] = adapter.baseline_token_id
            baselines.append(_activation_at_target(adapter, changed, tp))

    raw = torch.zeros_like(real)
    for layer in range(adapter.n_layers):
        module = adapter.ffn_output_projection(layer)
        for base in baselines:
            w, w0 = real[layer], base[layer]
            for k in range(steps):
                alpha = (k + 1) / steps  # right Riemann sum, k = 1..M
                x = (w0 + alpha * (w - w0)).detach().requires_grad_(True)

                def replace(_m, args, x=x):
                    act = args[0].clone()
                    act[0, tp] = x.to(act.dtype)
                    return (act,)

                handle = module.register_forward_pre_hook(replace)
                try:
                    logits = model(input_ids=ids[None]).logits
                finally:
                    handle.remove()
                prob = reference_probability(model, enc, logits)
                (grad,) = torch.autograd.grad(prob, x)
                raw[layer] += (w - w0) * grad / steps
    return raw.cpu()


def batched_steps_attribution(adapter, enc: EncodedQuery, method: str, steps: int) -> torch.Tensor:
    """Raw IG or SAIG scores [L, N] float32, batched over the Riemann steps the way public
    knowledge-neuron code does it (EleutherAI's ``knowledge-neurons``, Dai et al.'s): for
    every layer and baseline, ONE forward and backward pass of the whole input repeated
    ``M`` times, row ``k`` carrying path point ``k``. A stronger baseline for the benchmark
    than :func:`reference_attribution`; same formula and Riemann sum."""
    model, ids, tp = adapter.model, enc.input_ids.to(adapter.device), enc.target_position
    real = _activation_at_target(adapter, ids, tp)
    if method == "ig":
        baselines = [torch.zeros_like(real)]
    else:
        baselines = []
        for pos in enc.token_positions.tolist():
            changed = ids.clone()
            changed[pos] = adapter.baseline_token_id
            baselines.append(_activation_at_target(adapter, changed, tp))
    alpha = torch.arange(1, steps + 1, dtype=torch.float32, device=real.device)[:, None] / steps
    batch = ids[None].expand(steps, -1)
    positions, answers = enc.answer_positions.tolist(), enc.answer_ids.tolist()
    raw = torch.zeros_like(real)
    for layer in range(adapter.n_layers):
        module = adapter.ffn_output_projection(layer)
        for base in baselines:
            w, w0 = real[layer], base[layer]
            x = (w0 + alpha * (w - w0)).detach().requires_grad_(True)  # [M, N]

            def replace(_m, args, x=x):
                act = args[0].clone()
                act[:, tp] = x.to(act.dtype)
                return (act,)

            handle = module.register_forward_pre_hook(replace)
            try:
                logits = model(input_ids=batch).logits  # [M, S, V]
            finally:
                handle.remove()
            logp = torch.log_softmax(logits[:, positions].float(), dim=-1)  # [M, K, V]
            prob = logp[:, torch.arange(len(answers)), answers].sum(-1).exp()  # [M]
            (grad,) = torch.autograd.grad(prob.sum(), x)
            raw[layer] += (w - w0) * grad.sum(0) / steps
    return raw.cpu()
