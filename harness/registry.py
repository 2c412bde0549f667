"""One small registry for every kind of extension: localizers, tasks and models.

Built-ins register with a decorator (``@register("localizer", "matrice")``). Installed
packages register through the entry-point groups ``rml_lama.localizers``,
``rml_lama.tasks`` and ``rml_lama.models``; a local module through ``load_plugin_module``.
Entry points are loaded lazily, on the first lookup that misses, and a plugin that fails to
load gives a warning naming it instead of aborting the run.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

KINDS: dict[str, str] = {
    "localizer": "rml_lama.localizers",
    "task": "rml_lama.tasks",
    "model": "rml_lama.models",
}


@dataclass
class Entry:
    kind: str
    name: str
    obj: Any
    description: str = ""
    origin: str = "builtin"  # builtin, entry point "pkg:attr", or a module path


@dataclass
class _Registry:
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    loaded_groups: set[str] = field(default_factory=set)
    builtins_loaded: set[str] = field(default_factory=set)
    failures: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})


_REGISTRY = _Registry()

# Modules whose import registers the built-ins of each kind.
_BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "localizer": ("harness.localizers",),
    "task": ("harness.tasks",),
    "model": ("harness.models",),
}


class RegistryError(LookupError):
    """An unknown name, a clash, or a plugin that could not be loaded."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RegistryError(f"unknown registry kind {kind!r}; valid kinds: {', '.join(KINDS)}")


def register(kind: str, name: str, description: str = "") -> Callable[[Any], Any]:
    """Decorator: register ``obj`` under ``name``. The description defaults to the first
    docstring line."""
    _check_kind(kind)

    def deco(obj: Any) -> Any:
        add(kind, name, obj, description=description)
        return obj

    return deco


def add(kind: str, name: str, obj: Any, description: str = "", origin: str = "builtin") -> None:
    _check_kind(kind)
    existing = _REGISTRY.entries[kind].get(name)
    if existing is not None and existing.obj is not obj:
        raise RegistryError(f"{kind} {name!r} is already registered (by {existing.origin})")
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    desc = description or (doc[0] if doc else "")
    _REGISTRY.entries[kind][name] = Entry(kind, name, obj, desc, origin)


def _load_builtins(kind: str) -> None:
    if kind in _REGISTRY.builtins_loaded:
        return
    _REGISTRY.builtins_loaded.add(kind)
    for mod in _BUILTIN_MODULES[kind]:
        importlib.import_module(mod)


def _load_entry_points(kind: str) -> None:
    group = KINDS[kind]
    if group in _REGISTRY.loaded_groups:
        return
    _REGISTRY.loaded_groups.add(group)
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except (Exception, SystemExit) as e:  # a broken plugin must not take the run down
            msg = f"{kind} plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}"
            _REGISTRY.failures[kind][ep.name] = msg
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            continue
        if ep.name not in _REGISTRY.entries[kind]:
            add(kind, ep.name, obj, origin=f"entry point {ep.value}")


def load_plugin_module(module: str) -> None:
    """Import a local module (``--plugin pkg.mod``) whose import registers extensions."""
    try:
        importlib.import_module(module)
    except SystemExit as e:  # would end the process with its code, often 0, having done nothing
        raise RegistryError(
            f"--plugin {module}: its import called sys.exit({e.code}); a plugin must only register extensions"
        ) from None
    except Exception as e:
        raise RegistryError(f"--plugin {module}: could not import it: {type(e).__name__}: {e}") from e


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``; raises RegistryError listing the valid choices."""
    _check_kind(kind)
    _load_builtins(kind)
    if name not in _REGISTRY.entries[kind]:
        _load_entry_points(kind)
    if name in _REGISTRY.entries[kind]:
        return _REGISTRY.entries[kind][name].obj
    if name in _REGISTRY.failures[kind]:
        raise RegistryError(_REGISTRY.failures[kind][name])
    raise RegistryError(f"unknown {kind} {name!r}; valid choices: {', '.join(names(kind)) or '(none)'}")


def entries(kind: str) -> list[Entry]:
    """Every registered entry of ``kind``, built-ins and installed plugins, sorted by name."""
    _check_kind(kind)
    _load_builtins(kind)
    _load_entry_points(kind)
    return sorted(_REGISTRY.entries[kind].values(), key=lambda e: e.name)


def names(kind: str) -> list[str]:
    return [e.name for e in entries(kind)]


def failures(kind: str) -> dict[str, str]:
    """Plugins of ``kind`` that failed to load, with the reason."""
    return dict(_REGISTRY.failures[kind])
