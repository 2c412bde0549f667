"""The SDK wrapper: real ``anthropic`` client, fake API behind an ``httpx2.MockTransport``."""

from __future__ import annotations

import json
import logging

import anthropic
import httpx2
import pytest

from builders.claude import client as claude_client
from builders.claude.cache import ResponseCache, request_key
from builders.claude.client import (
    ClaudeError,
    Failure,
    Request,
    Sender,
    answer_text,
    make_client,
    message_body,
    read_api_key,
)
from builders.claude.cost import UsageTally, cost, estimate_tokens
from builders.claude.fake import FakeClaude, http_client, prompt_of
from builders.claude.schema import TEMPLATES_SCHEMA

KEY = "sk-ant-TEST-0123456789-secret"
ANSWER = json.dumps({"templates": ["[X] on alue, jonka pääkaupunki on [Y]."]})


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """The SDK's own backoff, shortened: the tests exercise it, not its timing."""
    import anthropic._base_client as base

    monkeypatch.setattr(base, "INITIAL_RETRY_DELAY", 0.001)
    monkeypatch.setattr(base, "MAX_RETRY_DELAY", 0.002)


@pytest.fixture
def fake(monkeypatch):
    f = FakeClaude(lambda body: ANSWER, batch_polls=1)
    monkeypatch.setattr(claude_client, "HTTP_CLIENT_FACTORY", lambda: http_client(f))
    return f


def requests(n: int, model: str = "claude-opus-5-5") -> list[Request]:
    return [
        Request(message_body(model, "system prompt", f"prompt {i}", TEMPLATES_SCHEMA), f"r{i}")
        for i in range(n)
    ]


def sender(tmp_path, batch=False, retries=2, **kw) -> Sender:
    return Sender(
        ResponseCache(tmp_path / "cache"),
        lambda: make_client(KEY, max_retries=retries),
        batch=batch,
        poll_interval=0,
        workers=2,
        **kw,
    )


def test_message_body_caches_the_system_prompt_and_asks_for_structured_output():
    body = message_body("claude-opus-5-5", "sys", "user", TEMPLATES_SCHEMA, 1000, effort="low")
    assert body["system"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": TEMPLATES_SCHEMA},
        "effort": "low",
    }
    assert "temperature" not in body and body["messages"] == [{"role": "user", "content": "user"}]
    assert request_key(body) != request_key({**body, "model": "claude-sonnet-5-5"})


def test_messages_success_is_cached_with_request_id(fake, tmp_path):
    s = sender(tmp_path)
    out = s.fetch(requests(2))
    assert len(fake.requests) == 2 and all(isinstance(v, dict) for v in out.values())
    sent = json.loads(fake.requests[0].content)
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    headers = fake.requests[0].headers  # the key goes in a header, nowhere else
    assert KEY in (headers.get("x-api-key", ""), headers.get("authorization", "").removeprefix("Bearer "))
    entry = next(iter(out.values()))
    assert answer_text(entry) == ANSWER  # the thinking block is left out
    assert entry["request_id"].startswith("req_") and entry["via"] == "messages"
    assert s.usage.requests == 2 and s.usage.cache_write_tokens == 900 and s.usage.usd > 0


def test_cache_hit_makes_no_request(fake, tmp_path):
    sender(tmp_path).fetch(requests(3))
    fake.requests.clear()
    again = sender(tmp_path)
    out = again.fetch(requests(3))
    assert not fake.requests and len(out) == 3
    assert again.usage.cached == 3 and again.usage.requests == 0


def test_no_client_is_made_when_everything_is_cached(fake, tmp_path):
    sender(tmp_path).fetch(requests(1))

    def no_client():
        raise AssertionError("a client was made")

    s = Sender(ResponseCache(tmp_path / "cache"), no_client)
    assert isinstance(s.fetch(requests(1))[requests(1)[0].key], dict)


def test_429_then_success(fake, tmp_path):
    fake.fail = [429, 429]
    out = sender(tmp_path, retries=3).fetch(requests(1))
    assert isinstance(next(iter(out.values())), dict)
    assert len(fake.requests) == 3


def test_429_storm_beyond_retries_is_a_failure_not_a_crash(fake, tmp_path):
    fake.fail = [429] * 10
    s = sender(tmp_path, retries=2)
    s.workers = 1
    out = s.fetch(requests(2))
    failures = [v for v in out.values() if isinstance(v, Failure)]
    assert len(failures) == 2 and not failures[0].permanent and "429" in failures[0].reason
    assert s.usage.failed == 2 and not list(ResponseCache(tmp_path / "cache").entries())


def test_timeout_is_retried_then_reported(monkeypatch, tmp_path):
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx2.ReadTimeout("slow", request=request)

    monkeypatch.setattr(
        claude_client,
        "HTTP_CLIENT_FACTORY",
        lambda: anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )
    out = sender(tmp_path, retries=1).fetch(requests(1))
    failure = next(iter(out.values()))
    assert isinstance(failure, Failure) and "Timeout" in failure.reason and len(calls) == 2


def test_a_bad_request_fails_that_request_only(fake, tmp_path):
    fake.fail = [400]
    s = sender(tmp_path)
    s.workers = 1
    out = s.fetch(requests(2))
    kinds = sorted(type(v).__name__ for v in out.values())
    assert kinds == ["Failure", "dict"]
    assert next(v for v in out.values() if isinstance(v, Failure)).permanent


def test_a_bad_key_stops_the_run(fake, tmp_path):
    fake.fail = [401]
    with pytest.raises(ClaudeError, match="401") as e:
        sender(tmp_path).fetch(requests(1))
    assert KEY not in str(e.value)


def test_base_url_comes_from_the_environment(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy.internal:8080/anthropic")
    sender(tmp_path).fetch(requests(1))
    url = fake.requests[0].url
    assert (url.host, url.port) == ("proxy.internal", 8080)
    assert url.path == "/anthropic/v1/messages"


def test_key_from_file_or_environment_never_in_messages(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ClaudeError, match="ANTHROPIC_API_KEY") as e:
        read_api_key()
    f = tmp_path / "key"
    f.write_text(KEY + "\n")
    assert read_api_key(f) == KEY
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert read_api_key() == KEY
    f.write_text("")
    with pytest.raises(ClaudeError, match="empty") as e:
        read_api_key(f)
    assert KEY not in str(e.value)


def test_key_is_not_in_cache_or_logs(fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake.fail = [429]
    sender(tmp_path, retries=2).fetch(requests(2))
    stored = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert stored and KEY not in stored
    assert caplog.records and KEY not in caplog.text
    assert "Retrying request" in caplog.text  # the SDK's retry was logged, without the key


# -- Message Batches -------------------------------------------------------------------------


def test_batch_flow_matches_results_by_custom_id(fake, tmp_path):
    fake.batch_polls = 2
    reqs = requests(3)
    s = sender(tmp_path, batch=True)
    out = s.fetch(reqs)
    created = [r for r in fake.requests if r.method == "POST"]
    assert len(created) == 1 and created[0].url.path == "/v1/messages/batches"
    sent = json.loads(created[0].content)["requests"]
    assert [x["custom_id"] for x in sent] == [r.key for r in reqs]
    assert sent[0]["params"] == reqs[0].body
    polls = [r for r in fake.requests if r.method == "GET" and not r.url.path.endswith("results")]
    assert len(polls) >= 3  # two "in_progress", then "ended" (results() retrieves once more)
    for r in reqs:
        assert out[r.key]["via"] == "batch" and out[r.key]["request"] == r.body
        assert prompt_of(out[r.key]["request"]) == prompt_of(r.body)
    assert s.usage.requests == 3 and s.usage.usd == pytest.approx(
        3 * cost("claude-opus-5-5", 100, 50, 0, 900, batch=True), rel=0.5
    )
    assert not ResponseCache(tmp_path / "cache").pending_batches()


def test_batch_resubmits_only_failed_items(fake, tmp_path):
    fake.batch_failures = {0: "errored", 2: "expired"}
    reqs = requests(4)
    out = sender(tmp_path, batch=True).fetch(reqs)
    creates = [json.loads(r.content)["requests"] for r in fake.requests if r.method == "POST"]
    assert len(creates) == 2
    assert [x["custom_id"] for x in creates[1]] == [reqs[0].key, reqs[2].key]
    assert all(isinstance(v, dict) for v in out.values())


def test_batch_item_refused_is_permanent_and_not_resubmitted(fake, tmp_path):
    fake.batch_failures = {1: "invalid"}
    reqs = requests(2)
    out = sender(tmp_path, batch=True).fetch(reqs)
    assert isinstance(out[reqs[1].key], Failure) and out[reqs[1].key].permanent
    assert sum(r.method == "POST" for r in fake.requests) == 1


def test_interrupted_batch_is_collected_not_resubmitted(fake, tmp_path, monkeypatch):
    """Ctrl-C while polling: the batch id is on disk, the rerun polls it instead of paying
    for a second batch."""
    reqs = requests(2)
    s = sender(tmp_path, batch=True)

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(claude_client.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        s.fetch(reqs)
    assert len(ResponseCache(tmp_path / "cache").pending_batches()) == 1
    monkeypatch.undo()
    monkeypatch.setattr(claude_client, "HTTP_CLIENT_FACTORY", lambda: http_client(fake))
    out = sender(tmp_path, batch=True).fetch(reqs)
    assert sum(r.method == "POST" for r in fake.requests) == 1
    assert all(isinstance(v, dict) for v in out.values())
    assert not ResponseCache(tmp_path / "cache").pending_batches()


def test_a_vanished_batch_on_record_is_sent_again(fake, tmp_path):
    reqs = requests(2)
    ResponseCache(tmp_path / "cache").save_batch("msgbatch_gone", {r.key: r.body for r in reqs})
    out = sender(tmp_path, batch=True).fetch(reqs)
    assert all(isinstance(v, dict) for v in out.values())
    assert not ResponseCache(tmp_path / "cache").pending_batches()


def test_batch_api_outage_stops_cleanly_and_keeps_the_cache(fake, tmp_path):
    sender(tmp_path).fetch(requests(1))
    fake.fail = [529] * 10
    with pytest.raises(ClaudeError, match="run again to resume"):
        sender(tmp_path, batch=True).fetch(requests(3))
    assert len(list(ResponseCache(tmp_path / "cache").entries())) == 1


def test_cost_and_token_estimates():
    assert cost("claude-opus-5-5", 1_000_000, 0) == pytest.approx(4.0)
    assert cost("claude-opus-5-5", 0, 1_000_000, batch=True) == pytest.approx(10.0)
    assert cost("claude-opus-5-5", 0, 0, cache_write=1_000_000, cache_read=1_000_000) == pytest.approx(
        4.0 * 1.25 + 4.0 * 0.1
    )
    assert cost("claude-haiku-4-5-20251001", 1_000_000, 0) == pytest.approx(1.0)  # a snapshot
    assert cost("unknown-model", 1, 1) is None
    assert estimate_tokens("a" * 400) == 101 and estimate_tokens("首都" * 3) == 5
    tally = UsageTally()
    tally.add("mystery", {"input_tokens": 5, "output_tokens": 1})
    assert "no price for mystery" in tally.summary()
