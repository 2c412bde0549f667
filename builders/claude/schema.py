"""JSON schemas of Claude's answers, and their parsing.

The schemas go to the API as structured output (``output_config.format``), so a conforming
model cannot answer in another shape; the answer is still parsed and checked here, because
a proxy, an older model or a truncated answer can break the promise.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from builders.validate import clean_whitespace

_STRINGS = {"type": "array", "items": {"type": "string"}}

TEMPLATES_SCHEMA: dict = {  # the answer to a rephrase or a repair request
    "type": "object",
    "properties": {"templates": _STRINGS},
    "required": ["templates"],
    "additionalProperties": False,
}

QUERIES_SCHEMA: dict = {  # the answer to a fact-integration request
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"uuid": {"type": "string"}, "query": {"type": "string"}},
                "required": ["uuid", "query"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["queries"],
    "additionalProperties": False,
}

MAX_ITEMS = 50  # more than any request asks for; a longer list is a runaway answer


class AnswerError(ValueError):
    """An answer that is not JSON of the expected shape; the message says what is wrong."""


def check(value, schema: dict, path: str = "$") -> None:
    """The subset of JSON Schema used above: object, array, string, required, no extras."""
    kind = schema["type"]
    if kind == "object":
        if not isinstance(value, dict):
            raise AnswerError(f"{path} should be an object, got {type(value).__name__}")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise AnswerError(f"{path} lacks {', '.join(missing)}")
        extra = [k for k in value if k not in schema["properties"]]
        if extra and schema.get("additionalProperties") is False:
            raise AnswerError(f"{path} has unexpected field(s) {', '.join(extra)}")
        for k, sub in schema["properties"].items():
            if k in value:
                check(value[k], sub, f"{path}.{k}")
    elif kind == "array":
        if not isinstance(value, list):
            raise AnswerError(f"{path} should be an array, got {type(value).__name__}")
        if len(value) > MAX_ITEMS:
            raise AnswerError(f"{path} has {len(value)} items, more than {MAX_ITEMS}")
        for i, item in enumerate(value):
            check(item, schema["items"], f"{path}[{i}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise AnswerError(f"{path} should be a string, got {type(value).__name__}")
    else:  # pragma: no cover - a schema above uses an unsupported type
        raise ValueError(f"unsupported schema type {kind!r}")


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def load_json(text: str) -> object:
    """The JSON in an answer's text (tolerating a Markdown code fence around it)."""
    text = text.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    if not text:
        raise AnswerError("the answer is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AnswerError(f"the answer is not valid JSON ({e.msg} at position {e.pos})") from e


def parse_templates(text: str) -> list[str]:
    """Templates from a rephrase or repair answer, white space cleaned, empty ones dropped."""
    value = cast(dict[str, Any], load_json(text))  # check() makes sure it is an object
    check(value, TEMPLATES_SCHEMA)
    out = [clean_whitespace(t) for t in value["templates"]]
    return [t for t in dict.fromkeys(out) if t]


def parse_queries(text: str) -> dict[str, str]:
    """``{uuid: query}`` from a fact-integration answer (the first query of a uuid wins)."""
    value = cast(dict[str, Any], load_json(text))  # check() makes sure it is an object
    check(value, QUERIES_SCHEMA)
    out: dict[str, str] = {}
    for item in value["queries"]:
        out.setdefault(item["uuid"].strip(), re.sub(r"\s+", " ", item["query"]).strip())
    return out
