"""The optional parts of the installation (pyproject's extras), and the error that names one.

The base install is what ``rml-eval`` needs to evaluate a built dataset. Building the
dataset, generating rephrasings with Claude and drawing the leaderboard need more::

    pip install "rml-lama[build]"        # rml-build build / check-bank: lingua, jinja2, opencc
    pip install "rml-lama[claude]"       # rml-build generate: anthropic (and [build])
    pip install "rml-lama[leaderboard]"  # rml-leaderboard, the demo's page: matplotlib, jinja2
    pip install "rml-lama[dev]"          # all of them and the test tools
"""

from __future__ import annotations

import importlib.util

# extra -> the modules it provides (import names); kept in step with pyproject.toml by a test
EXTRAS: dict[str, tuple[str, ...]] = {
    "build": ("lingua", "jinja2", "opencc"),
    "claude": ("anthropic", "lingua", "jinja2", "opencc"),  # httpx2 comes with huggingface_hub
    "leaderboard": ("matplotlib", "jinja2", "jsonschema"),
}


class MissingExtraError(ImportError):
    """A command needs an optional part of the installation that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; valid: {', '.join(EXTRAS)}")
    return [m for m in EXTRAS[extra] if not _importable(m)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked installation counts as missing
        return False


def require(extra: str, what: str) -> None:
    """Raise a one-line :class:`MissingExtraError` when ``what`` (e.g. ``"rml-build build"``)
    cannot run because the modules of ``extra`` are not installed."""
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{what} needs the [{extra}] extra (missing: {', '.join(absent)}); install it with "
            f'pip install "rml-lama[{extra}]" (or "-e .[{extra}]" in a checkout)'
        )
