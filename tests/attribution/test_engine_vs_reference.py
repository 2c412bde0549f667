"""The fast engine equals the plain reference (tests/attribution/reference.py)."""

from __future__ import annotations

import pytest
import torch

from harness.attribution import attribute, encode_query

from .conftest import MULTI, SINGLE
from .reference import batched_steps_attribution, reference_attribution

FAMILIES = ["gpt2", "llama", "bert"]
NEW_FAMILIES = ["gemma", "gemma2", "bloom", "xglm"]  # IG and SAIG, multi-token, one test each
STEPS = 4


def assert_close_rel(fast: torch.Tensor, ref: torch.Tensor, rtol: float = 1e-5) -> None:
    """|fast - ref| <= rtol * max|ref|, and ref is not trivially zero."""
    scale = ref.abs().max().item()
    assert (ref != 0).float().mean() > 0.5, "reference is ~0: the comparison would be vacuous"
    err = (fast - ref).abs().max().item()
    assert err <= rtol * scale, f"max |fast - ref| = {err:.3g} > {rtol} * {scale:.3g}"


@pytest.mark.parametrize("full_object", [False, True], ids=["first-token", "full-object"])
@pytest.mark.parametrize("method", ["ig", "saig"])
@pytest.mark.parametrize("family", FAMILIES)
def test_fast_matches_reference(make_adapter, family, method, full_object):
    adapter = make_adapter(family)
    query = MULTI if full_object else SINGLE
    enc = encode_query(adapter, query, full_object=full_object)
    if full_object:
        assert len(enc.answer_ids) > 1  # a real multi-token target
    ref = reference_attribution(adapter, enc, method, STEPS)
    fast = attribute(adapter, enc, method=method, steps=STEPS, full_object=full_object)
    assert fast.raw.dtype == torch.float32 and fast.raw.device.type == "cpu"
    assert_close_rel(fast.raw, ref)


@pytest.mark.parametrize("method", ["ig", "saig"])
@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_fast_matches_reference_other_families(make_adapter, family, method):
    adapter = make_adapter(family)
    enc = encode_query(adapter, MULTI, full_object=True)
    assert len(enc.answer_ids) > 1
    ref = reference_attribution(adapter, enc, method, STEPS)
    fast = attribute(adapter, enc, method=method, steps=STEPS, full_object=True, max_rows=7)
    assert_close_rel(fast.raw, ref)


@pytest.mark.parametrize("family", FAMILIES)
def test_chunking_does_not_change_scores(make_adapter, family):
    """max_rows splits layers and baselines across chunks (7 does not divide anything)."""
    adapter = make_adapter(family)
    whole = attribute(adapter, MULTI, method="saig", steps=STEPS, full_object=True)
    chunked = attribute(adapter, MULTI, method="saig", steps=STEPS, full_object=True, max_rows=7)
    one_row = attribute(adapter, SINGLE, method="ig", steps=3, max_rows=1)
    assert_close_rel(chunked.raw, whole.raw)
    assert_close_rel(one_row.raw, attribute(adapter, SINGLE, method="ig", steps=3).raw)


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_batched_steps_reference_matches_the_plain_one(make_adapter, family):
    """The benchmark's second reference computes the same scores."""
    adapter = make_adapter(family)
    enc = encode_query(adapter, MULTI, full_object=True)
    assert_close_rel(
        batched_steps_attribution(adapter, enc, "saig", STEPS),
        reference_attribution(adapter, enc, "saig", STEPS),
    )


def test_comparison_is_sharp(make_adapter):
    """Sanity check of the check: one Riemann step more is already outside the tolerance."""
    adapter = make_adapter("gpt2")
    enc = encode_query(adapter, SINGLE)
    fast = attribute(adapter, enc, method="ig", steps=STEPS)
    with pytest.raises(AssertionError):
        assert_close_rel(fast.raw, reference_attribution(adapter, enc, "ig", STEPS + 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("family", FAMILIES)
def test_fast_matches_reference_on_cuda(make_adapter, family):
    adapter = make_adapter(family)
    adapter.model.to("cuda")
    enc = encode_query(adapter, MULTI, full_object=True)
    ref = reference_attribution(adapter, enc, "saig", STEPS)
    fast = attribute(adapter, enc, method="saig", steps=STEPS, full_object=True)
    assert_close_rel(fast.raw, ref, rtol=1e-4)
