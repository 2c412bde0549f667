"""harness.options: the option coercion shared by localizers and tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from harness.options import build, coerce, option, option_defaults, option_help, options_of


@dataclass
class Thing:
    rate: float = option(0.5, "a rate")
    steps: int = 3
    langs: tuple[str, ...] = ("en",)
    mode: Literal["a", "b"] = "a"
    limit: int | None = None
    on: bool = False
    _cache: dict = field(default_factory=dict, init=False)


def test_strings_become_the_field_types() -> None:
    t = build(
        "task",
        "thing",
        Thing,
        {"rate": "0.25", "steps": "7", "langs": "fi, hu", "mode": "b", "limit": "none", "on": "yes"},
    )
    assert (t.rate, t.steps, t.langs, t.mode, t.limit, t.on) == (0.25, 7, ("fi", "hu"), "b", None, True)
    assert build("task", "thing", Thing, {"limit": "4", "steps": 2}).limit == 4  # non-strings pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"rat": "1"},
            "task 'thing': unknown option.s. rat; valid options: langs, limit, mode, on, rate, steps",
        ),
        ({"_cache": "1"}, "unknown option.s. _cache"),  # init=False fields are not options
        ({"steps": "many"}, "option thing.steps: expected int, got 'many'"),
        ({"mode": "c"}, "option thing.mode: 'c' is not one of a, b"),
        ({"on": "maybe"}, "option thing.on: expected a boolean, got 'maybe'"),
    ],
)
def test_bad_options_name_the_option_and_the_choices(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build("task", "thing", Thing, options)


def test_defaults_and_options_of() -> None:
    assert option_defaults(Thing) == {
        "rate": 0.5,
        "steps": 3,
        "langs": ("en",),
        "mode": "a",
        "limit": None,
        "on": False,
    }
    assert options_of(Thing(langs=("fi",))) == {
        "rate": 0.5,
        "steps": 3,
        "langs": ["fi"],
        "mode": "a",
        "limit": None,
        "on": False,
    }
    assert coerce("2", int | None, "x") == 2 and coerce("", int | None, "x") is None
    assert option_help(Thing)["rate"] == "a rate" and option_help(Thing)["steps"] == ""
