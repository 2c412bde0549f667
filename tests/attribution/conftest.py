"""Fixtures: tiny random models (built offline from configs) and their adapters."""

from __future__ import annotations

from harness.attribution import ClozeQuery

# Answers that the tiny tokenizers split into several tokens (checked in test_query.py).
SINGLE = ClozeQuery("The capital of France is", "Paris", ".")
MULTI = ClozeQuery("Dante Alighieri was born in", "Parisberg", ".")
