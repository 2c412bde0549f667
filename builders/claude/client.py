"""Send requests to Claude through the ``anthropic`` SDK, through the response cache.

Two transports: the Messages API (a few parallel requests, for small runs) and the Message
Batches API (half price, for a full build). The SDK retries 429, 5xx, timeouts and
connection errors itself (``max_retries``); what still fails is returned as a
:class:`Failure` for that request, so one bad request never costs the others. The API key
is read here and handed to the SDK only: it is never logged, printed or stored.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anthropic
import httpx2

from builders.claude import DEFAULT_MODEL  # noqa: F401  (re-exported)
from builders.claude.cache import ResponseCache, message_problem, request_key
from builders.claude.cost import UsageTally
from builders.errors import BuildError

log = logging.getLogger(__name__)

# Thinking is always on for current Opus models and counts toward max_tokens.
DEFAULT_MAX_TOKENS = 8192
DEFAULT_MAX_RETRIES = 5
DEFAULT_TIMEOUT = 300.0
KEY_ENV = "ANTHROPIC_API_KEY"

# Tests and offline demos set this to build the SDK's HTTP client (e.g. on a MockTransport).
HTTP_CLIENT_FACTORY: Callable[[], httpx2.Client] | None = None


class ClaudeError(BuildError):
    """A failure that stops the whole run (bad key, unknown model); cached work is kept."""


def read_api_key(key_file: Path | None = None) -> str:
    """The key from ``--key-file`` or ``$ANTHROPIC_API_KEY``; the message never shows it."""
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ClaudeError(f"--key-file {key_file}: cannot read it ({e.strerror})") from None
        if not key:
            raise ClaudeError(f"--key-file {key_file}: the file is empty")
        return key
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise ClaudeError(
            f"no API key: set ${KEY_ENV} or pass --key-file FILE (or use --dry-run, or import a "
            "cache with `rml-build cache import` to rebuild without a key)"
        )
    return key


def make_client(
    api_key: str, max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT
) -> anthropic.Anthropic:
    """No ``base_url`` is passed, so the SDK honours ``$ANTHROPIC_BASE_URL``."""
    http_client = HTTP_CLIENT_FACTORY() if HTTP_CLIENT_FACTORY is not None else None
    return anthropic.Anthropic(
        api_key=api_key, max_retries=max_retries, timeout=timeout, http_client=http_client
    )


def message_body(
    model: str,
    system: str,
    prompt: str,
    schema: dict,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    effort: str | None = None,
) -> dict:
    """A Messages API request: the shared system prompt is marked for prompt caching, the
    answer is constrained to ``schema`` (structured output). No temperature or prefill:
    current models reject both."""
    output_config: dict = {"format": {"type": "json_schema", "schema": schema}}
    if effort:
        output_config["effort"] = effort
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": prompt}],
        "output_config": output_config,
    }


@dataclass(frozen=True)
class Request:
    body: dict
    label: str  # for logs and reports: "P36/fi round 0"
    key: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", request_key(self.body))


@dataclass(frozen=True)
class Failure:
    reason: str
    permanent: bool  # a rerun will fail the same way (e.g. a request the API refuses)


def answer_text(entry: dict) -> str:
    """The text of a cached response (thinking blocks left out)."""
    blocks = entry["response"].get("content") or []
    return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")


def _as_dict(msg: object) -> object:
    """The answer as plain JSON data; the SDK hands a body that is not an object through
    as a list or a string."""
    if isinstance(msg, anthropic.BaseModel):
        import warnings

        with warnings.catch_warnings():  # pydantic warns about a wrong-shaped field
            warnings.simplefilter("ignore")
            return msg.to_dict(mode="json")
    return msg


def _fatal(e: anthropic.APIStatusError) -> bool:
    return isinstance(
        e,
        (
            anthropic.AuthenticationError,
            anthropic.PermissionDeniedError,
            anthropic.NotFoundError,
            anthropic.PaymentRequiredError,
        ),
    )


def _describe(e: Exception) -> str:
    if isinstance(e, anthropic.APIStatusError):
        return f"HTTP {e.status_code} {getattr(e, 'type', None) or ''}: {e.message}".strip()
    return f"{type(e).__name__}: {e}"


class Sender:
    """Answers requests from the cache, and sends only the others."""

    def __init__(
        self,
        cache: ResponseCache,
        client: Callable[[], anthropic.Anthropic],
        batch: bool = False,
        workers: int = 4,
        poll_interval: float = 30.0,
        batch_resubmits: int = 2,
        usage: UsageTally | None = None,
    ) -> None:
        self.cache = cache
        self._make_client = client  # called on the first request that must be sent
        self._client: anthropic.Anthropic | None = None
        self.batch = batch
        self.workers = max(1, workers)
        self.poll_interval = poll_interval
        self.batch_resubmits = batch_resubmits
        self.usage = usage or UsageTally()

    @property
    def client(self) -> anthropic.Anthropic:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def fetch(self, requests: list[Request]) -> dict[str, dict | Failure]:
        """``{key: cache entry or Failure}`` for every request."""
        out: dict[str, dict | Failure] = {}
        todo: dict[str, Request] = {}
        for r in requests:
            entry = self.cache.get(r.key)
            if entry is not None:
                out[r.key] = entry
                self.usage.cached += 1
            else:
                todo.setdefault(r.key, r)
        if todo:
            sent = self._send_batch_safely(todo) if self.batch else self._send_messages(todo)
            out.update(sent)
            self.usage.failed += sum(isinstance(v, Failure) for v in sent.values())
        return out

    # -- Messages API -------------------------------------------------------------------

    def _send_one(self, r: Request) -> dict | Failure:
        try:
            msg = self.client.messages.create(**r.body)
        except anthropic.APIStatusError as e:
            if _fatal(e):
                raise ClaudeError(f"the API refused the request ({_describe(e)})") from None
            permanent = isinstance(e, anthropic.BadRequestError)
            return Failure(_describe(e), permanent)
        except anthropic.APIConnectionError as e:  # includes timeouts, after the SDK's retries
            return Failure(_describe(e), permanent=False)
        except (ValueError, anthropic.APIResponseValidationError) as e:  # a truncated or non-JSON 200
            return Failure(f"malformed answer (HTTP 200): {type(e).__name__}: {e}", permanent=False)
        response = _as_dict(msg)
        why = message_problem(response)
        if why:  # not cached, so a rerun asks again
            log.warning("%s: malformed answer (HTTP 200): %s", r.label, why)
            return Failure(f"malformed answer (HTTP 200): {why}", permanent=False)
        request_id = getattr(msg, "_request_id", None) or ""
        assert isinstance(response, dict)  # message_problem checked its shape
        self.usage.add(response["model"], response.get("usage") or {}, batch=False)
        log.info("%s: answered (request %s)", r.label, request_id)
        return self.cache.put(r.body, response, request_id=request_id, via="messages")

    def _send_messages(self, todo: dict[str, Request]) -> dict[str, dict | Failure]:
        out: dict[str, dict | Failure] = {}
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="claude")
        try:
            futures = {pool.submit(self._send_one, r): key for key, r in todo.items()}
            for fut in as_completed(futures):
                out[futures[fut]] = fut.result()
        except BaseException:
            # Ctrl-C or a fatal error: start nothing new; requests in flight finish and are
            # cached, so a rerun resumes from them.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return out

    # -- Message Batches API ------------------------------------------------------------

    def _send_batch_safely(self, todo: dict[str, Request]) -> dict[str, dict | Failure]:
        """A batch call that fails after the SDK's retries stops the run: the answers
        received are cached and a submitted batch is on record, so a rerun resumes."""
        try:
            return self._send_batches(todo)
        except anthropic.APIError as e:
            if isinstance(e, anthropic.APIStatusError) and _fatal(e):
                raise ClaudeError(f"the API refused the request ({_describe(e)})") from None
            raise ClaudeError(
                f"the Message Batches API failed ({_describe(e)}); run again to "
                "resume (a submitted batch is collected, not paid for twice)"
            ) from None

    def _send_batches(self, todo: dict[str, Request]) -> dict[str, dict | Failure]:
        out: dict[str, dict | Failure] = {}
        waiting = {k: r.body for k, r in todo.items()}
        # A batch submitted by an interrupted run is collected, not paid for twice.
        for record in self.cache.pending_batches():
            if waiting.keys() & record["requests"].keys():
                log.info("resuming batch %s", record["batch_id"])
                try:
                    self._collect(record["batch_id"], record["requests"], out, waiting)
                except anthropic.NotFoundError:  # deleted, or its results expired: ask anew
                    log.warning("batch %s is gone; its requests are sent again", record["batch_id"])
                    self.cache.drop_batch(record["batch_id"])
        for attempt in range(self.batch_resubmits + 1):
            if not waiting:
                break
            if attempt:
                log.info("resubmitting %d failed batch requests", len(waiting))
            batch = self.client.messages.batches.create(
                # our request bodies; the SDK types them as a TypedDict
                requests=[{"custom_id": k, "params": cast(Any, body)} for k, body in waiting.items()]
            )
            self.cache.save_batch(batch.id, dict(waiting))
            self._collect(batch.id, dict(waiting), out, waiting)
        for k in waiting:
            out.setdefault(k, Failure("the batch request did not succeed", permanent=False))
        return out

    def _collect(self, batch_id: str, bodies: dict[str, dict], out: dict, waiting: dict) -> None:
        """Poll a batch to its end, cache what succeeded, leave retryable failures in
        ``waiting`` and move permanent ones to ``out``."""
        while True:
            batch = self.client.messages.batches.retrieve(batch_id)
            if batch.processing_status == "ended":
                break
            log.info("batch %s: %s", batch_id, batch.request_counts)
            time.sleep(self.poll_interval)
        for item in self.client.messages.batches.results(batch_id):
            key, result = item.custom_id, item.result
            body = bodies.get(key)
            if body is None:
                continue  # not ours: a batch record always lists every request it holds
            response = _as_dict(result.message) if result.type == "succeeded" else None
            why = message_problem(response) if result.type == "succeeded" else None
            if why:  # worth resubmitting, never cached
                log.warning("batch %s: malformed answer for %s: %s", batch_id, key[:12], why)
            elif result.type == "succeeded":
                assert isinstance(response, dict)  # message_problem checked its shape
                self.usage.add(response["model"], response.get("usage") or {}, batch=True)
                out[key] = self.cache.put(
                    body, response, request_id=f"{batch_id}/{key[:16]}", via="batch", batch_id=batch_id
                )
                waiting.pop(key, None)
            elif result.type == "errored" and result.error.error.type == "invalid_request_error":
                out[key] = Failure(f"batch item refused: {result.error.error.message}", True)
                waiting.pop(key, None)
            else:  # errored (overloaded, api error), expired or canceled: worth resubmitting
                log.info("batch %s: %s for %s", batch_id, result.type, key[:12])
        self.cache.drop_batch(batch_id)
