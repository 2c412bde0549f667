"""Faults of a 200 answer: wrong shape, truncated, not a Message; a poisoned cache entry.

The real ``anthropic`` client talks to an ``httpx2.MockTransport``. A malformed 200 is a
retryable failure of that request only: it is never cached, the other requests of the run
are answered, and a rerun against a healthy endpoint asks again and succeeds. A bad entry
already in the cache is a miss.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from builders.claude import client as claude_client
from builders.claude.cache import ResponseCache, message_problem
from builders.claude.client import Failure, Request, Sender, answer_text, make_client, message_body
from builders.claude.fake import FakeClaude
from builders.claude.schema import TEMPLATES_SCHEMA
from builders.cli import main

SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[3] / "shared" / "data")
KEY = "sk-ant-FAULTS-0123456789"
ANSWER = json.dumps({"templates": ["[X] on alue, jonka pääkaupunki on [Y]."]})
HEALTHY = FakeClaude(lambda body: ANSWER)

BAD_BODIES = {
    "content-is-a-string": json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": "oops",
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    ),
    "content-blocks-are-strings": json.dumps(
        {"id": "msg_1", "type": "message", "model": "m", "content": ["a", "b"], "usage": {}}
    ),
    "text-block-without-text": json.dumps(
        {"id": "msg_1", "type": "message", "model": "m", "content": [{"type": "text", "text": 3}]}
    ),
    "usage-not-numbers": json.dumps(
        {"id": "msg_1", "type": "message", "model": "m", "content": [], "usage": {"input_tokens": "many"}}
    ),
    "truncated": '{"id": "msg_1", "type": "message", "content": [{"type": "text", "text": "[X] on',
    "not-json": "<html>502 Bad Gateway</html>",
    "not-a-message": json.dumps({"foo": 1}),
    "a-list": json.dumps([1, 2]),
    "a-string": json.dumps("hello"),
    "an-error-object": json.dumps({"type": "error", "error": {"type": "api_error", "message": "x"}}),
}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    import anthropic._base_client as base

    monkeypatch.setattr(base, "INITIAL_RETRY_DELAY", 0.001)
    monkeypatch.setattr(base, "MAX_RETRY_DELAY", 0.002)


class Scripted:
    """The first ``n_bad`` Messages requests get ``body`` (HTTP 200); the rest are healthy."""

    def __init__(self, body: str, n_bad: int = 1) -> None:
        self.body, self.n_bad, self.requests, self.sent = body, n_bad, [], 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        self.sent += 1
        if self.sent <= self.n_bad:
            return httpx2.Response(
                200, content=self.body.encode(), headers={"content-type": "application/json"}
            )
        return HEALTHY(request)


def use(monkeypatch, handler) -> None:
    import anthropic

    monkeypatch.setattr(
        claude_client,
        "HTTP_CLIENT_FACTORY",
        lambda: anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )


def requests(n: int) -> list[Request]:
    return [
        Request(message_body("claude-opus-5-5", "system", f"prompt {i}", TEMPLATES_SCHEMA), f"r{i}")
        for i in range(n)
    ]


def sender(tmp_path) -> Sender:
    return Sender(ResponseCache(tmp_path / "cache"), lambda: make_client(KEY, max_retries=0), workers=1)


@pytest.mark.parametrize("kind", list(BAD_BODIES))
def test_a_malformed_200_fails_that_request_only_and_is_not_cached(kind, monkeypatch, tmp_path):
    handler = Scripted(BAD_BODIES[kind])
    use(monkeypatch, handler)
    reqs = requests(3)
    s = sender(tmp_path)
    out = s.fetch(reqs)
    failures = [v for v in out.values() if isinstance(v, Failure)]
    assert len(failures) == 1 and not failures[0].permanent
    assert "malformed answer (HTTP 200)" in failures[0].reason
    assert sum(isinstance(v, dict) for v in out.values()) == 2  # the others were answered
    assert s.usage.failed == 1 and s.usage.requests == 2
    cache = ResponseCache(tmp_path / "cache")
    assert len(list(cache.entries())) == 2
    # a rerun against the healthy endpoint asks only the failed request, and succeeds
    handler.requests.clear()
    again = sender(tmp_path).fetch(reqs)
    assert all(isinstance(v, dict) for v in again.values()) and len(handler.requests) == 1
    assert all(answer_text(v) == ANSWER for v in again.values())


@pytest.mark.parametrize(
    "response",
    [
        "oops",
        [1],
        {"type": "message", "model": "m", "content": "oops"},
        {"type": "message", "model": "m", "content": [{"type": "text"}]},
        {"type": "message", "content": []},
    ],
)
def test_a_poisoned_cache_entry_is_a_miss_and_is_replaced(response, monkeypatch, tmp_path):
    """An entry written by an older version (which cached a wrong-shaped 200), or damaged."""
    use(monkeypatch, HEALTHY)
    req = requests(1)[0]
    cache = ResponseCache(tmp_path / "cache")
    path = cache._path(req.key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": req.key, "request": req.body, "response": response}))
    assert cache.get(req.key) is None and req.key not in cache
    HEALTHY.requests.clear()
    out = sender(tmp_path).fetch([req])
    assert isinstance(out[req.key], dict) and len(HEALTHY.requests) == 1
    assert cache.get(req.key)["response"]["content"][-1]["text"] == ANSWER  # replaced on disk


def test_put_refuses_a_wrong_shaped_response(tmp_path):
    cache = ResponseCache(tmp_path)
    with pytest.raises(ValueError, match="content is a str"):
        cache.put({"model": "m"}, {"type": "message", "model": "m", "content": "oops"})
    assert not list((tmp_path).rglob("*.json"))


def test_import_refuses_wrong_shaped_entries(tmp_path):
    from builders.claude.cache import request_key

    body = {"model": "m", "messages": []}
    good = {"type": "message", "model": "m", "content": [{"type": "text", "text": "{}"}]}
    lines = [
        json.dumps({"key": request_key(body), "request": body, "response": {"content": "oops"}}),
        json.dumps({"key": request_key(body), "request": body, "response": good}),
    ]
    added, present, problems = ResponseCache(tmp_path).import_(lines)
    assert (added, present) == (1, 0) and len(problems) == 1 and "line 1" in problems[0]


def test_message_problem_accepts_a_real_answer():
    msg = HEALTHY.message({"model": "claude-opus-5-5"}, 1)
    assert message_problem(msg) is None


def test_batch_item_with_a_malformed_message_is_resubmitted_not_cached(monkeypatch, tmp_path):
    """A batch whose first result is a Message of the wrong shape: it is resubmitted."""
    fake = FakeClaude(lambda body: ANSWER, batch_polls=0)
    real_message = fake.message
    calls = {"n": 0}

    def message(body, n):
        calls["n"] += 1
        out = real_message(body, n)
        if calls["n"] == 1:
            out["content"] = "oops"
        return out

    fake.message = message
    use(monkeypatch, fake)
    s = Sender(
        ResponseCache(tmp_path / "cache"),
        lambda: make_client(KEY, max_retries=0),
        batch=True,
        poll_interval=0,
    )
    out = s.fetch(requests(2))
    assert all(isinstance(v, dict) for v in out.values())
    assert len([r for r in fake.requests if r.method == "POST"]) == 2  # one resubmission
    assert all(message_problem(e["response"]) is None for e in ResponseCache(tmp_path / "cache").entries())


def test_generate_with_a_truncated_body_fails_that_pair_in_one_line_and_resumes(monkeypatch, tmp_path):
    """Before: "Unterminated string…" aborted the whole run (exit 2). Now: that pair fails
    (exit 1, one line per failure), and the rerun completes it from a healthy endpoint."""
    good = json.dumps(
        {
            "templates": [
                "[X] on alue, jonka hallintokeskus on [Y].",
                "Kaupunki, joka on alueen [X] pääkaupunki, on [Y].",
                "[X] on alue, jonka hallinnollinen pääkaupunki on [Y].",
            ]
        }
    )
    healthy = FakeClaude(lambda body: good)
    state = {"bad": 1}

    def handler(request):
        if request.method == "POST" and state["bad"]:
            state["bad"] -= 1
            return httpx2.Response(
                200, content=BAD_BODIES["truncated"].encode(), headers={"content-type": "application/json"}
            )
        return healthy(request)

    use(monkeypatch, handler)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "fi.yaml").write_text('P36:\n  - "[X] on alue, jonka pääkaupunki on [Y]."\n')
    args = [
        "generate",
        "--sources",
        str(SOURCES),
        "--languages",
        "fi",
        "--relations",
        "P36,P37",
        "--per-relation",
        "3",
        "--cache",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "gen"),
        "--bank",
        str(tmp_path / "bank"),
        "--max-retries",
        "0",
        "--workers",
        "1",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    assert "Traceback" not in first.output and "malformed answer (HTTP 200)" in first.stderr
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "1 requests sent" in second.output
