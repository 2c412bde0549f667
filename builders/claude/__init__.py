"""The Claude rephrasing backend: templates generated and repaired by Claude.

:mod:`~builders.claude.prompts` renders ``prompts/*.j2``; :mod:`~builders.claude.client`
sends requests (Messages or Message Batches API) through the response cache
(:mod:`~builders.claude.cache`); :mod:`~builders.claude.generate` runs the
generate → validate → repair loop and :mod:`~builders.claude.store` writes what it accepted
to ``builders/generated/``, which ``rml-build build --rephrasings claude|all`` merges.
See ``docs/claude-and-hub.md``.
"""

# Opus is the tier the paper used (Claude 3 Opus, retired); 5.5 is the current Opus. Pick
# another with --model (e.g. claude-sonnet-5-5 at half the price). Here, not in client.py,
# so that the CLI can show it without importing the SDK.
DEFAULT_MODEL = "claude-opus-5-5"
