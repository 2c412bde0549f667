"""Options of registered extensions: dataclass fields, set from the command line.

Localizers and tasks are dataclasses whose init fields are their options. From the command
line every value is a string (``--localizer-option matrice.tau=0.3``, ``--task-option
inject.steps=50``); :func:`build` converts each to the field's annotated type and refuses a
key the dataclass does not have, listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any


def coerce(value: Any, tp: Any, what: str) -> Any:
    """Convert a CLI string ``value`` to the annotated type ``tp`` (non-strings pass)."""
    if not isinstance(value, str):
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return coerce(value, args[0], what)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and value.strip().lower() in ("none", "null", ""):
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, what)
            except ValueError:
                continue
        raise ValueError(f"option {what}: cannot read {value!r} as {tp}")
    if origin is tuple:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        return tuple(coerce(p, args[0] if args else str, what) for p in parts)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"option {what}: {value!r} is not one of {', '.join(map(str, args))}")
    if tp is bool:
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"option {what}: expected a boolean, got {value!r}")
    if tp in (int, float):
        try:
            return tp(value)
        except ValueError:
            raise ValueError(f"option {what}: expected {tp.__name__}, got {value!r}") from None
    return value


def option(default: Any, help: str) -> Any:
    """A dataclass field that is an option with a help text (``rml-eval list`` shows it)."""
    return dataclasses.field(default=default, metadata={"help": help})


def option_help(factory: Any) -> dict[str, str]:
    """Each option's help text ("" where it has none)."""
    return {name: f.metadata.get("help", "") for name, f in option_fields(factory).items()}


def option_fields(factory: Any) -> dict[str, dataclasses.Field]:
    """The options of a dataclass factory (its init fields), by name; {} for anything else."""
    if not (dataclasses.is_dataclass(factory) and isinstance(factory, type)):
        return {}
    return {f.name: f for f in dataclasses.fields(factory) if f.init}


def option_defaults(factory: Any) -> dict[str, Any]:
    """Each option's default (``None`` where it has none), for ``rml-eval list``."""
    out = {}
    for name, f in option_fields(factory).items():
        if f.default is not dataclasses.MISSING:
            out[name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[name] = f.default_factory()
        else:
            out[name] = None
    return out


def build(kind: str, name: str, factory: Callable[..., Any], options: Mapping[str, Any] | None) -> Any:
    """``factory(**options)`` with string values converted to the dataclass field types
    (``"0.5"`` -> 0.5, ``"en,zh"`` -> ``("en", "zh")``, ``"none"`` -> None); an unknown key
    raises ValueError naming ``kind`` and ``name`` and listing the valid keys."""
    opts = dict(options or {})
    fields = option_fields(factory)
    if dataclasses.is_dataclass(factory) and isinstance(factory, type):
        hints = typing.get_type_hints(factory, include_extras=True)
        unknown = sorted(set(opts) - set(fields))
        if unknown:
            raise ValueError(
                f"{kind} {name!r}: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(sorted(fields)) or '(none)'}"
            )
        opts = {k: coerce(v, hints[k], f"{name}.{k}") for k, v in opts.items()}
    return factory(**opts)  # another factory gets the options as they are


def options_of(obj: Any) -> dict[str, Any]:
    """A dataclass object's options as a JSON-able dict (for logs and ``meta``)."""
    if not dataclasses.is_dataclass(obj):
        return {}
    out = {}
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    json.dumps(out)  # fail early on a non-JSON-able option
    return out
