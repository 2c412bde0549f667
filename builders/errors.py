"""Errors the builder raises for bad input: each names the file, line or entry at fault."""


class BuildError(Exception):
    """Bad input or configuration; the message says where and what to do."""


class SourceError(BuildError):
    """A missing or malformed source file."""
