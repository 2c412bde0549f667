"""The generate → validate → repair loop, its outputs, and the build that merges them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import yaml

from builders.build import BuildConfig, build
from builders.claude import client as claude_client
from builders.claude.cache import ResponseCache
from builders.claude.client import make_client
from builders.claude.fake import FakeClaude, http_client, job_of, prompt_of
from builders.claude.generate import GenerateConfig, dry_run, generate
from builders.claude.store import load_generated, load_generation_rejections

# the public sources, as tests/conftest.py finds them
SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[4] / "shared" / "data")
KEY = "sk-ant-TEST-generate-secret"

GOOD = {
    ("P36", "fi"): [
        "[X] on alue, jonka hallintokeskus on [Y].",
        "Kaupunki, joka on alueen [X] pääkaupunki, on [Y].",
        "[X] on alue, jonka hallinnollinen pääkaupunki on [Y].",
        "[X] on alue, jonka pääkaupunkina toimii [Y].",
    ],
    ("P37", "fi"): [
        "Virallinen kieli, jota [X] käyttää, on [Y].",
        "Kieli, joka on virallinen kieli alueella [X], on [Y].",
        "Virallinen kieli alueella [X] on [Y].",
    ],
}
BANK_FI = (
    'P36:\n  - "[X] on alue, jonka pääkaupunki on [Y]."\n'
    'P37:\n  - "[X] on alue, jonka virallinen kieli on [Y]."\n'
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    import anthropic._base_client as base

    monkeypatch.setattr(base, "INITIAL_RETRY_DELAY", 0.001)
    monkeypatch.setattr(base, "MAX_RETRY_DELAY", 0.002)


def use(monkeypatch, respond, **kw) -> FakeClaude:
    fake = FakeClaude(respond, **kw)
    monkeypatch.setattr(claude_client, "HTTP_CLIENT_FACTORY", lambda: http_client(fake))
    return fake


def config(tmp_path, relations=("P36",), **kw) -> GenerateConfig:
    bank = tmp_path / "bank"
    bank.mkdir(exist_ok=True)
    (bank / "fi.yaml").write_text(BANK_FI, encoding="utf-8")
    kw = {"per_relation": 3, "rounds": 2, "workers": 1, "poll_interval": 0, **kw}
    return GenerateConfig(
        SOURCES,
        ["fi"],
        list(relations),
        cache_dir=tmp_path / "cache",
        out_dir=tmp_path / "gen",
        bank_dir=bank,
        **kw,
    )


def client():
    return make_client(KEY, max_retries=2)


def answer(templates) -> str:
    return json.dumps({"templates": templates}, ensure_ascii=False)


def test_repair_loop_fixes_rejected_templates(monkeypatch, tmp_path):
    def respond(body):
        rel, lang, kind = job_of(body)
        if kind == "rephrase":  # one good, one not [Y]-final, one English, one in the bank
            return answer(
                [
                    GOOD[rel, lang][0],
                    "[Y] on alueen [X] pääkaupunki.",
                    "The capital of [X] is [Y].",
                    "[X] on alue, jonka pääkaupunki on [Y] .",
                ]
            )
        assert "rejected (y_final)" in prompt_of(body) and "rejected (language)" in prompt_of(body)
        assert "rejected (duplicate)" in prompt_of(body)
        return answer(GOOD[rel, lang][1:3])

    fake = use(monkeypatch, respond)
    result = generate(config(tmp_path), client)
    assert len(fake.requests) == 2 and not result.failed
    templates = load_generated("fi", tmp_path / "gen")
    assert [t.template for t in templates] == GOOD["P36", "fi"][:3]
    first, repaired = templates[0], templates[1]
    assert first.origin == "claude" and first.where == "claude: P36/fi round 0"
    meta = dict(repaired.meta)
    assert meta["round"] == "1" and meta["model"] == "claude-opus-5-5"
    assert meta["request_id"] == "req_0002"
    rules = sorted(r.rule for r in load_generation_rejections("fi", tmp_path / "gen"))
    assert rules == ["duplicate", "language", "y_final"]
    prov = [json.loads(x) for x in (tmp_path / "gen" / "generation.jsonl").read_text().splitlines()]
    assert [(p["kind"], p["round"]) for p in prov] == [("rephrase", 0), ("repair", 1)]


@pytest.mark.parametrize("bad", ["not json at all", '{"templates": "one"}', '["[X] on [Y]."]', ""])
def test_malformed_answer_is_repaired(monkeypatch, tmp_path, bad):
    def respond(body):
        rel, lang, kind = job_of(body)
        if kind == "rephrase":
            return bad
        assert "Your previous answer could not be used" in prompt_of(body)
        return answer(GOOD[rel, lang][:3])

    use(monkeypatch, respond)
    generate(config(tmp_path), client)
    assert len(load_generated("fi", tmp_path / "gen")) == 3
    rej = load_generation_rejections("fi", tmp_path / "gen")
    assert [r.rule for r in rej] == ["malformed_answer"]


def test_rounds_exhausted_records_rejections_and_keeps_what_passed(monkeypatch, tmp_path):
    use(monkeypatch, lambda body: answer(["[Y] on alueen [X] pääkaupunki.", GOOD["P36", "fi"][0]]))
    result = generate(config(tmp_path, rounds=1), client)
    job = result.jobs[0]
    assert job.done and not job.failure and len(job.accepted) == 1
    assert {r.source for r in job.rejections} == {"claude: P36/fi round 0", "claude: P36/fi round 1"}


def test_rerun_is_served_from_the_cache(monkeypatch, tmp_path):
    fake = use(monkeypatch, lambda body: answer(GOOD[job_of(body)[:2]]))
    generate(config(tmp_path, relations=("P36", "P37")), client)
    first = (tmp_path / "gen" / "fi.yaml").read_text()
    sent = len(fake.requests)
    fake.requests.clear()

    def no_key():
        raise AssertionError("no request should be needed")

    result = generate(config(tmp_path, relations=("P36", "P37")), no_key)
    assert not fake.requests and result.usage.cached == sent >= 2
    assert (tmp_path / "gen" / "fi.yaml").read_text() == first


def test_interrupt_keeps_cache_and_outputs_then_resumes(monkeypatch, tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "fi.yaml").write_text("P37:\n- template: '[X] on alue, jonka kieli on [Y].'\n  round: 0\n")
    before = (gen / "fi.yaml").read_text()
    calls = []

    def respond(body):
        calls.append(job_of(body))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second request is in flight
        return answer(GOOD[job_of(body)[:2]])

    use(monkeypatch, respond)
    with pytest.raises(KeyboardInterrupt):
        generate(config(tmp_path, relations=("P36", "P37")), client)
    assert (gen / "fi.yaml").read_text() == before  # nothing half-written
    assert len(list(ResponseCache(tmp_path / "cache").entries())) == 1

    fake = use(monkeypatch, lambda body: answer(GOOD[job_of(body)[:2]]))
    result = generate(config(tmp_path, relations=("P36", "P37")), client)
    assert len(fake.requests) == 1 and result.usage.cached == 1  # only the missing one
    data = yaml.safe_load((gen / "fi.yaml").read_text())
    assert [e["template"] for e in data["P37"]] == GOOD["P37", "fi"]


def test_failed_request_leaves_that_pair_untouched(monkeypatch, tmp_path):
    def respond(body):
        return answer(GOOD[job_of(body)[:2]])

    fake = use(monkeypatch, respond, fail=[500] * 3)  # the first request fails for good
    result = generate(config(tmp_path, relations=("P36", "P37")), client)
    assert [j.relation for j in result.failed] == ["P36"]
    data = yaml.safe_load((tmp_path / "gen" / "fi.yaml").read_text())
    assert list(data) == ["P37"]
    fake.fail = []
    assert not generate(config(tmp_path, relations=("P36", "P37")), client).failed
    assert list(yaml.safe_load((tmp_path / "gen" / "fi.yaml").read_text())) == ["P36", "P37"]


def test_batch_mode_sends_one_batch_per_round(monkeypatch, tmp_path):
    def respond(body):
        rel, lang, kind = job_of(body)
        return answer(GOOD[rel, lang][:1] if kind == "rephrase" else GOOD[rel, lang][1:3])

    fake = use(monkeypatch, respond, batch_failures={1: "errored"})
    result = generate(config(tmp_path, relations=("P36", "P37"), batch=True), client)
    creates = [json.loads(r.content)["requests"] for r in fake.requests if r.method == "POST"]
    assert [len(c) for c in creates] == [2, 1, 2]  # round 0, its resubmitted item, round 1
    assert all(len(j.accepted) == 3 for j in result.jobs)
    assert dict(load_generated("fi", tmp_path / "gen")[0].meta)["request_id"].startswith("msgbatch_")


def test_dry_run_needs_no_key_and_counts_cached(monkeypatch, tmp_path):
    cfg = config(tmp_path, relations=("P36", "P37"))
    est = dry_run(cfg)
    assert (est.requests, est.cached, est.repair_requests) == (2, 0, 4)
    assert est.input_tokens > 500 and est.usd > 0
    assert "claude-opus-5-5" in est.summary(cfg.model, batch=False)
    use(monkeypatch, lambda body: answer(GOOD[job_of(body)[:2]]))
    generate(cfg, client)
    assert (dry_run(cfg).requests, dry_run(cfg).cached) == (0, 2)


def test_exported_cache_rebuilds_without_a_key(monkeypatch, tmp_path):
    use(monkeypatch, lambda body: answer(GOOD[job_of(body)[:2]]))
    generate(config(tmp_path), client)
    out = io.StringIO()
    assert ResponseCache(tmp_path / "cache").export(out) == 1
    other = tmp_path / "elsewhere"
    other.mkdir()
    added, present, problems = ResponseCache(other / "cache").import_(io.StringIO(out.getvalue()))
    assert (added, present, problems) == (1, 0, [])

    def no_key():
        raise AssertionError("no key needed")

    generate(config(other), no_key)
    assert (other / "gen" / "fi.yaml").read_text() == (tmp_path / "gen" / "fi.yaml").read_text()
    entry = json.loads(out.getvalue())
    entry["request"]["max_tokens"] = 1  # an answer filed under another request's key
    _, _, problems = ResponseCache(tmp_path / "c2").import_(io.StringIO(json.dumps(entry) + "\n"))
    assert problems and "does not match" in problems[0]


def test_build_merges_generated_templates_with_provenance(monkeypatch, tmp_path):
    use(monkeypatch, lambda body: answer(GOOD[job_of(body)[:2]]))
    cfg = config(tmp_path, relations=("P36",))
    generate(cfg, client)
    (tmp_path / "bank" / "fi.yaml").write_text(
        'P36:\n  - "[X] on alue, jonka pääkaupunki on [Y]."\n'
        '  - "[X] on alue, jonka hallintokeskus on [Y]."\n'
        '  - "Pääkaupunki, joka kuuluu kohteelle [X], on [Y]."\n',
        encoding="utf-8",
    )
    out = tmp_path / "ds"
    build(
        BuildConfig(
            SOURCES,
            out=out,
            languages=["fi"],
            relations=["P36"],
            max_facts_per_relation=4,
            bank_dir=tmp_path / "bank",
            rephrasings="all",
            generated_dir=cfg.out_dir,
            progress=False,
        )
    )
    manifest = json.loads((out / "manifest.json").read_text())
    origins = manifest["statistics"]["fi"]["origins"]
    assert origins["claude"] > 0 and origins["curated"] > 0
    report = [json.loads(x) for x in (out / "validation_report.jsonl").read_text().splitlines()]
    assert any(r["rule"] == "duplicate" and r["source"].startswith("claude:") for r in report)

    claude_only = tmp_path / "ds2"
    build(
        BuildConfig(
            SOURCES,
            out=claude_only,
            languages=["fi"],
            relations=["P36"],
            max_facts_per_relation=4,
            rephrasings="claude",
            generated_dir=cfg.out_dir,
            progress=False,
        )
    )
    stats = json.loads((claude_only / "manifest.json").read_text())["statistics"]["fi"]["origins"]
    assert stats["claude"] > 0 and stats["curated"] == 0


def fact_answers(edit):
    """A fake Claude: GOOD templates, and for fact integration ``edit(queries)`` where
    ``queries`` gives every asked uuid the query "Tämän maan pääkaupunki on"."""

    def respond(body):
        rel, lang, kind = job_of(body)
        if kind != "facts":
            return answer(GOOD[rel, lang])
        uuids = [
            line.split(":")[0].strip("- ")
            for line in prompt_of(body).splitlines()
            if line.startswith("- ") and "[X] =" in line
        ]
        queries = [{"uuid": u, "query": "Tämän maan pääkaupunki on"} for u in uuids]
        return json.dumps({"queries": edit(queries)})

    return respond


def test_fact_integration_writes_validated_queries(monkeypatch, tmp_path):
    def edit(queries):
        queries[0]["query"] = "The capital is"  # wrong language
        return queries[:-1]  # and one missing

    use(monkeypatch, fact_answers(edit))
    generate(config(tmp_path, fact_integration=4), client)
    rows = [json.loads(x) for x in (tmp_path / "gen" / "fi.facts.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["query"] == "Tämän maan pääkaupunki on" for r in rows)
    rules = sorted(r.rule for r in load_generation_rejections("fi", tmp_path / "gen"))
    assert rules == ["language", "missing"]


def test_fact_queries_reach_the_dataset(monkeypatch, tmp_path):
    """Fact integration's queries join their facts' rows, origin claude-fact, with a template
    that is the query itself and the relation's ending."""
    import pyarrow.parquet as pq

    from builders.claude.store import load_fact_queries

    use(monkeypatch, fact_answers(lambda queries: queries[:2]))
    cfg = config(tmp_path, fact_integration=4)
    generate(cfg, client)
    queries = load_fact_queries("fi", cfg.out_dir)
    assert len(queries) == 2
    out = tmp_path / "ds"
    build(
        BuildConfig(
            SOURCES,
            out=out,
            languages=["fi"],
            relations=["P36"],
            max_facts_per_relation=4,
            bank_dir=tmp_path / "bank",
            rephrasings="all",
            generated_dir=cfg.out_dir,
            progress=False,
        )
    )
    rows = pq.read_table(out / "data" / "fi" / "test.parquet").to_pylist()
    with_fact = [r for r in rows if r["uuid"] in queries]
    assert len(with_fact) == 2
    for r in with_fact:
        assert r["queries"][-1] == "Tämän maan pääkaupunki on"
        assert r["templates"][-1] == "Tämän maan pääkaupunki on [Y]."
        assert r["template_origins"][-1] == "claude-fact"
        assert "claude-fact" not in r["template_origins"][:-1]
    assert all("claude-fact" not in r["template_origins"] for r in rows if r["uuid"] not in queries)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["statistics"]["fi"]["origins"]["claude-fact"] == 2


def test_malformed_fact_queries_name_file_and_line(tmp_path):
    from builders.claude.store import load_fact_queries
    from builders.errors import BuildError

    (tmp_path / "fi.facts.jsonl").write_text('{"uuid": "a", "query": "x"}\n{"uuid": "b"}\n', encoding="utf-8")
    with pytest.raises(BuildError, match=r"fi\.facts\.jsonl:2: expected a JSON object with 'uuid'"):
        load_fact_queries("fi", tmp_path)
