"""Queries longer than the model's context are left out of their fact (counted and
reported), never a crash; a fact left without queries in a language is not evaluated."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution.query import ClozeQuery, encode_query
from harness.context import LeftOut, limit_to_context, query_fits
from harness.data import Fact, FactPool
from harness.evaluate import EvalConfig, evaluate
from rml_lama.schema import FEATURES

LONG = "Tämä on hyvin pitkä lause joka ei mahdu " * 12  # far past 64 tokens


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def _fact(uuid: str, fi: list[str], en: list[str]) -> Fact:
    return Fact(
        uuid=uuid,
        relation="P36",
        objects={"fi": "Helsinki", "en": "Helsinki"},
        queries={
            "fi": tuple(ClozeQuery(p, "Helsinki") for p in fi),
            "en": tuple(ClozeQuery(p, "Helsinki") for p in en),
        },
    )


def test_the_adapter_knows_its_context(adapter):
    assert adapter.context_length == 64
    model, tok = tiny_model("bert", seed=0)
    assert get_adapter(model, tok).context_length == 64  # max_position_embeddings


def test_the_check_is_the_length_of_the_longest_input(adapter):
    fits = query_fits(adapter)
    short, long = ClozeQuery("Suomen pääkaupunki on", "Helsinki"), ClozeQuery(LONG, "Helsinki")
    assert fits(short) and not fits(long)
    assert len(encode_query(adapter, long, full_object=True).input_ids) > 64

    # exactly at the limit fits, one token more does not: found by growing a prefix
    def length(prefix: str) -> int:
        return len(encode_query(adapter, ClozeQuery(prefix, "Oulu"), full_object=True).input_ids)

    word, prefix = "talo", "talo"
    while length(prefix + " " + word) <= 64:
        prefix += " " + word
    at = ClozeQuery(prefix, "Oulu")
    assert length(prefix) <= 64 and fits(at)
    assert not fits(ClozeQuery(prefix + " " + word, "Oulu"))
    with torch.no_grad():  # what fits runs; the long one is what used to crash
        adapter.model(encode_query(adapter, at, full_object=True).input_ids[None])
        with pytest.raises(IndexError):
            adapter.model(encode_query(adapter, long, full_object=True).input_ids[None])


def test_over_long_queries_are_left_out_and_counted(adapter):
    ok = _fact("a", ["Suomen pääkaupunki on", LONG], ["The capital of Finland is"])
    gone = _fact("b", [LONG], ["The capital of Finland is"])
    kept, left = limit_to_context([ok, gone], adapter, ["fi", "en"])
    assert [f.uuid for f in kept] == ["a"]
    assert [q.prefix for q in kept[0].queries["fi"]] == ["Suomen pääkaupunki on"]
    assert kept[0].queries["en"] == ok.queries["en"]
    assert left == LeftOut(64, queries=2, facts=1)
    assert left.message() == (
        "left out 2 queries longer than the model's context of 64 tokens; "
        "1 fact left without a query in a language of the run, not evaluated"
    )
    # a run in English only keeps fact b: it has queries there
    assert [f.uuid for f in limit_to_context([ok, gone], adapter, ["en"])[0]] == ["a", "b"]
    pool = FactPool.of([ok, gone])
    pool.restrict(query_fits(adapter))
    assert list(pool.facts(["fi"])) == ["a"] and len(pool.facts(["fi"])["a"].queries["fi"]) == 1


def _row(uuid: str, lang: str, queries: list[str]) -> dict:
    return {
        "uuid": uuid,
        "relation": "P36",
        "subject": "Suomi",
        "subject_uri": "Q33",
        "object": "Helsinki",
        "object_uri": "Q1757",
        "objects": ["Helsinki"],
        "subject_mlama": "Suomi",
        "object_mlama": "Helsinki",
        "language": lang,
        "templates": [q + " [Y]." for q in queries],
        "queries": queries,
        "template_origins": ["curated"] * len(queries),
    }


def test_a_run_with_over_long_queries_reports_them(tmp_path, capsys):
    data = tmp_path / "ds"
    rows = {
        "fi": [_row("u1", "fi", ["Suomen pääkaupunki on", LONG]), _row("u2", "fi", [LONG])],
        "en": [
            _row("u1", "en", ["The capital of Finland is"]),
            _row("u2", "en", ["The capital of Finland is"]),
        ],
    }
    card = "---\nconfigs:\n"
    for lang, rs in rows.items():
        (data / "data" / lang).mkdir(parents=True)
        pq.write_table(
            pa.Table.from_pylist(rs, schema=FEATURES.arrow_schema), data / "data" / lang / "test.parquet"
        )
        card += f"- config_name: {lang}\n  data_files:\n  - split: test\n    path: data/{lang}/*.parquet\n"
    (data / "README.md").write_text(card + "---\n", encoding="utf-8")
    model_dir = tmp_path / "model"
    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    run = evaluate(
        EvalConfig(
            model=str(model_dir),
            localizers=["random"],
            tasks=["layer-distribution"],
            languages=["fi", "en"],
            dataset=str(data),
            out=str(tmp_path / "run"),
            steps=2,
            correct_only=False,
            progress=False,
        )
    )
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["left_out"] == {"context": 64, "queries": 2, "facts": 1}
    assert set(run.done_facts()) == {"u1"}  # u2 has no fi query left: not evaluated
    from harness.summary import print_summary

    print_summary(summary)
    assert "left out 2 queries longer than the model's context of 64 tokens" in capsys.readouterr().err


@pytest.mark.parametrize("family", ["gpt2", "bert", "llama"])
def test_length_bound_holds_for_real_queries(family):
    """The tokenizer-free bound that spares the whole-pool filter from tokenizing must never
    fall below the real encoding's length; and ``fits`` then agrees with the exact check."""
    import random

    from harness.attribution.query import special_wrapping
    from harness.context import length_bound
    from rml_lama import DATASET_DIR

    model, tok = tiny_model(family, seed=0)
    ad = get_adapter(model, tok)
    queries = [
        ClozeQuery("Helsinki on", "Suomi", suffix="."),
        ClozeQuery("東京は", "日本", space=False),
        ClozeQuery("The capital is", "Paris", suffix=" city."),
        ClozeQuery(LONG, "x"),
    ]
    if (DATASET_DIR / "manifest.json").exists():
        import rml_lama
        from harness.data import row_queries

        rng = random.Random(0)
        for lang in ("en", "fi", "ja", "zh", "hu"):
            rows = rml_lama.load(lang)
            for i in rng.sample(range(len(rows)), 40):
                queries += row_queries(rows[i])
    head, tail = special_wrapping(tok)
    fits = query_fits(ad)
    checked = 0
    for q in queries:
        try:
            exact = len(encode_query(ad, q, full_object=True).input_ids)
        except ValueError:  # the tiny test vocabulary has no token for this answer
            continue
        checked += 1
        assert exact <= length_bound(q, ad.is_causal) + len(head) + len(tail), q
        assert fits(q) == (exact <= ad.context_length), q
    assert checked >= 4
