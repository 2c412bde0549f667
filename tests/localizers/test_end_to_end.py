"""Every built-in localizer on a tiny random model through the real attribution engine, and
AMIG's score against a plain autograd re-computation."""

from __future__ import annotations

import pytest
import torch

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery, encode_query
from harness.localizers import (
    EngineProvider,
    Fact,
    NeuronSet,
    amig_attribution,
    build_localizer,
    run_localizers,
)
from harness.localizers.provider import DEFAULT_METHODS

STEPS = 2
BUILTINS = ("matrice", "matrice-no-uaq", "matrice-no-ual", "amig", "kn", "random")
FACT = Fact(
    "e2e",
    "P36",
    {
        "en": (
            ClozeQuery("The capital of France is", "Paris", "."),
            ClozeQuery("France's capital is", "Paris"),
        ),
        "fr": (ClozeQuery("La capitale de la France est", "Paris", "."),),
        "zh": (ClozeQuery("法国的首都是", "巴黎", "。", space=False),),
    },
)


@pytest.fixture(scope="module")
def adapters():
    # One thread: tiny matmuls gain nothing from more, and on a busy machine OpenMP's
    # spinning threads make them 10-100x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {family: get_adapter(*tiny_model(family, seed=0)) for family in ("gpt2", "bert")}
    torch.set_num_threads(threads)


def counting_methods(calls: list[str]):
    def wrap(name):
        def run(*args):
            calls.append(name)
            return DEFAULT_METHODS[name](*args)

        return run

    return {name: wrap(name) for name in DEFAULT_METHODS}


def test_builtins_on_a_tiny_model_share_gradients(adapters, tmp_path):
    calls: list[str] = []
    provider = EngineProvider(
        adapters["gpt2"], model_id="tiny-gpt2-seed0", steps=STEPS, methods=counting_methods(calls),
        cache_dir=tmp_path,
    )  # fmt: skip
    localizers = {name: build_localizer(name) for name in BUILTINS}
    results = run_localizers(FACT, provider, localizers)
    for name, res in results.items():
        assert isinstance(res, NeuronSet), (name, res)
    # 4 queries: SAIG once each (matrice, both ablations, random), AMIG once each, IG for en only
    assert sorted(calls) == ["amig"] * 4 + ["ig"] * 2 + ["saig"] * 4
    assert len(results["random"]) == len(results["matrice"])
    assert all(0 <= p < 1 for p in (provider.base_probability(q) for qs in FACT.queries.values() for q in qs))
    # a fresh provider on the same disk cache recomputes nothing and agrees
    calls.clear()
    again = EngineProvider(
        adapters["gpt2"], model_id="tiny-gpt2-seed0", steps=STEPS, methods=counting_methods(calls),
        cache_dir=tmp_path,
    )  # fmt: skip
    results2 = run_localizers(FACT, again, localizers)
    assert calls == []
    for name in BUILTINS:
        assert results2[name].as_tuples() == results[name].as_tuples()


def reference_amig(adapter, query: ClozeQuery, steps: int) -> torch.Tensor:
    """AMIG written out plainly: full forward passes, one layer and one step at a time."""
    enc = encode_query(adapter, query)
    ids, pos = enc.input_ids[None], enc.target_position
    n_layers = adapter.n_layers
    with torch.no_grad(), adapter.capture() as acts:
        adapter.forward(ids)
    real = torch.stack([acts[layer][0, pos] for layer in range(n_layers)]).float()
    baselines = []
    for p in enc.token_positions.tolist():
        sentence = ids.clone()
        sentence[0, p] = adapter.baseline_token_id
        with torch.no_grad(), adapter.capture() as acts:
            adapter.forward(sentence)
        baselines.append(torch.stack([acts[layer][0, pos] for layer in range(n_layers)]).float())
    mean_baseline = torch.stack(baselines).mean(0)
    out = torch.zeros_like(real)
    for layer in range(n_layers):
        for i in range(steps):  # left Riemann sum
            x = (mean_baseline[layer] + i / steps * (real[layer] - mean_baseline[layer])).requires_grad_(True)

            def put(_layer, act, x=x):
                act = act.clone()
                act[:, pos] = x
                return act

            with adapter.patch(put, [layer]):
                logits, _ = adapter.forward(ids)
            prob = logits[0, enc.answer_positions[0]].float().softmax(-1)[enc.answer_ids[0]]
            (grad,) = torch.autograd.grad(prob, x)
            out[layer] += real[layer] * grad / steps  # AMIG scales by the activation, not w - b
    return out


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_amig_score_matches_plain_recomputation(adapters, family):
    adapter = adapters[family]
    query = FACT.queries["en"][0]
    got, base_prob = amig_attribution(adapter, query, steps=STEPS, max_rows=3)  # chunks that split a layer
    want = reference_amig(adapter, query, STEPS)
    assert (want != 0).float().mean() > 0.5
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()
    assert 0 < base_prob < 1
