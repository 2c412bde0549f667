"""The Claude rephrasing backend: templates generated and repaired by Claude.

:mod:`~builders.claude.prompts` renders ``prompts/*.j2``; :mod:`~builders.claude.client`
sends requests (Messages or Message Batches API) through the response cache
(:mod:`~builders.claude.cache`); :mod:`~builders.claude.generate` runs the
generate → validate → repair loop and :mod:`~builders.claude.store` writes what it accepted
to ``builders/generated/``, which ``rml-build build --rephrasings claude|all`` merges.
See ``docs/claude-and-hub.md``.
"""
