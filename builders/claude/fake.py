"""A fake Claude API for tests and offline demos: an ``httpx2`` handler that answers the
Messages and Message Batches endpoints the way the real API does, from a Python function.

    fake = FakeClaude(lambda body: '{"templates": ["[X] … [Y]."]}')
    http = anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(fake))

``fail`` scripts HTTP errors for the next Messages requests (e.g. ``[429, 429]``); batch
items listed in ``batch_failures`` come back errored or expired once.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

Responder = Callable[[dict], str]  # request body -> the answer's text


def prompt_of(body: dict) -> str:
    return body["messages"][-1]["content"]


def _found(pattern: str, prompt: str) -> str:
    m = re.search(pattern, prompt)
    if m is None:
        raise ValueError(f"fake Claude: the prompt does not match {pattern!r}")
    return m.group(1)


def job_of(body: dict) -> tuple[str, str, str]:
    """(relation, language, kind) of a generator's request; kind: rephrase, repair or facts."""
    from rml_lama.languages import LANGUAGES

    prompt = prompt_of(body)
    rel = _found(r"^Relation (P\d+) ", prompt)
    if '"queries"' in prompt:
        name = _found(r"the natural (\w+)\s", prompt)
        return rel, next(c for c, lang in LANGUAGES.items() if lang.name == name), "facts"
    code = _found(r"\(([a-z]{2})\) for this", prompt)
    return rel, code, "repair" if "corrected or new" in prompt else "rephrase"


def http_client(fake: FakeClaude):
    """The SDK's HTTP client, on a mock transport that ``fake`` answers."""
    import anthropic

    return anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(fake))


@dataclass
class FakeClaude:
    respond: Responder
    fail: list[int] = field(default_factory=list)  # status codes for the next POSTs
    batch_polls: int = 1  # retrieve() calls that see "in_progress" before "ended"
    batch_failures: dict[int, str] = field(default_factory=dict)  # item index -> result type
    requests: list[httpx2.Request] = field(default_factory=list)
    batches: dict[str, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _n: int = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
            self._n += 1
            n = self._n
        path = request.url.path
        path = path[path.find("/v1/") :]  # behind a proxy's prefix ($ANTHROPIC_BASE_URL)
        if request.method == "POST" and path == "/v1/messages":
            with self._lock:
                status = self.fail.pop(0) if self.fail else None
            if status is not None:
                return _error(status)
            body = json.loads(request.content)
            return httpx2.Response(200, json=self.message(body, n), headers={"request-id": f"req_{n:04d}"})
        if request.method == "POST" and path == "/v1/messages/batches":
            with self._lock:
                status = self.fail.pop(0) if self.fail else None
            if status is not None:
                return _error(status)
            return self._create_batch(json.loads(request.content), n)
        m = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
        if m and request.method == "GET":
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _error(404)
            if m.group(2):
                return self._results(batch)
            return self._retrieve(batch, request)
        return _error(404)

    def message(self, body: dict, n: int) -> dict:
        text = self.respond(body)
        return {
            "id": f"msg_{n:04d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [
                {"type": "thinking", "thinking": "", "signature": "sig"},
                {"type": "text", "text": text},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 100,
                "output_tokens": 50,
                "cache_creation_input_tokens": 0 if n > 1 else 900,
                "cache_read_input_tokens": 900 if n > 1 else 0,
            },
        }

    # -- batches ------------------------------------------------------------------------

    def _create_batch(self, payload: dict, n: int) -> httpx2.Response:
        batch_id = f"msgbatch_{n:04d}"
        self.batches[batch_id] = {"id": batch_id, "requests": payload["requests"], "polls": 0}
        return httpx2.Response(200, json=self._batch_json(self.batches[batch_id], None))

    def _retrieve(self, batch: dict, request: httpx2.Request) -> httpx2.Response:
        batch["polls"] += 1
        url = None
        if batch["polls"] > self.batch_polls:
            url = str(request.url.copy_with(path=f"/v1/messages/batches/{batch['id']}/results"))
        return httpx2.Response(200, json=self._batch_json(batch, url))

    def _batch_json(self, batch: dict, results_url: str | None) -> dict:
        total = len(batch["requests"])
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": "ended" if results_url else "in_progress",
            "request_counts": {
                "processing": 0 if results_url else total,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if results_url else None,
            "results_url": results_url,
            "archived_at": None,
            "cancel_initiated_at": None,
        }

    def _results(self, batch: dict) -> httpx2.Response:
        lines = []
        for i, item in enumerate(batch["requests"]):
            kind = self.batch_failures.pop(i, None)  # fails once: a resubmission succeeds
            if kind == "errored" or kind == "invalid":
                etype = "invalid_request_error" if kind == "invalid" else "api_error"
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": etype, "message": "scripted failure"}},
                }
            elif kind in ("expired", "canceled"):
                result = {"type": kind}
            else:
                with self._lock:
                    self._n += 1
                    n = self._n
                result = {"type": "succeeded", "message": self.message(item["params"], n)}
            lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
        return httpx2.Response(
            200, content=("\n".join(lines) + "\n").encode(), headers={"content-type": "application/binary"}
        )


def _error(status: int) -> httpx2.Response:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }
    kind = kinds.get(status, "api_error")
    headers = {"retry-after-ms": "1", "request-id": "req_error"}  # keep retries fast
    return httpx2.Response(
        status, headers=headers, json={"type": "error", "error": {"type": kind, "message": f"fake {kind}"}}
    )
