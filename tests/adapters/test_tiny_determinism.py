"""The tiny random models are the same model in every process and on every machine.

Tokenizer trainers can number tokens in hash-map order, which Rust randomizes per process;
a vocabulary that changes changes the model built on it, so tests would see a different
model each run. Two fresh interpreters must agree byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import hashlib, json, sys
import torch
from harness.adapters.tiny import FAMILIES, tiny_model
out = {}
for family in FAMILIES:
    model, tok = tiny_model(family, seed=0)
    h = hashlib.sha256(json.dumps(sorted(tok.get_vocab().items())).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode() + tensor.numpy().tobytes())
    out[family] = h.hexdigest()
print(json.dumps(out))
"""


def _fingerprints() -> str:
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, check=True)
    return run.stdout


def test_tiny_models_do_not_change_between_processes():
    first, second = _fingerprints(), _fingerprints()
    assert first == second
