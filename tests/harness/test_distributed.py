"""`accelerate launch` with two CPU processes: facts are sharded, rank 0 merges, and the
result equals a single-process run."""

import os
import shutil
import subprocess
import sys

import pytest

from harness.adapters.tiny import tiny_model
from harness.runs import RunFolder
from rml_lama import DATASET_DIR

pytestmark = pytest.mark.skipif(
    not (DATASET_DIR / "manifest.json").exists(), reason="needs the built dataset (rml-build)"
)


def _args(model_dir, out):
    return [
        "-m",
        "harness.cli",
        "--localizer",
        "matrice,random",
        "--model",
        str(model_dir),
        "--languages",
        "en,fi",
        "--facts",
        "4",
        "--steps",
        "4",
        "--all-queries",
        "--tasks",
        "layer-distribution,suppress-enhance",
        "--out",
        str(out),
        "-q",
        "--threads",
        "1",
    ]


def test_two_processes_match_one(tmp_path):
    accelerate = shutil.which("accelerate") or os.path.join(os.path.dirname(sys.executable), "accelerate")
    model_dir = tmp_path / "model"
    model, tok = tiny_model("gpt2", seed=0)
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, *_args(model_dir, tmp_path / "one")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        # no GPU here: --multi_gpu starts the processes, and they meet over gloo on the CPU
        [
            accelerate,
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            *_args(model_dir, tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    shards = sorted(p.name for p in (tmp_path / "two" / "shards").glob("*.done.json"))
    assert {s.split("-")[0] for s in shards} == {"r0", "r1"}  # both ranks wrote shards
    a, b = RunFolder(tmp_path / "one"), RunFolder(tmp_path / "two")
    assert a.neurons() == b.neurons()
    assert a.results("suppress-enhance") == b.results("suppress-enhance")
    assert a.summary()["tasks"] == b.summary()["tasks"]
