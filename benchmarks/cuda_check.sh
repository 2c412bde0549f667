#!/usr/bin/env bash
# The checks that need a GPU, as one script (run from the repository root on a CUDA machine):
#   1. the tests built on tiny models, with every model on the GPU (RML_LAMA_TEST_DEVICE=cuda),
#      which also runs the CUDA-only engine-vs-reference tests;
#   2. the attribution benchmark (engine vs reference) on CUDA, float32 and bfloat16: the small
#      default model at two chunk sizes, then an mGPT-sized body (d = 2048, 24 layers).
# Logs go to $OUT (default /tmp/cuda-check). Each step has its own time limit.
set -uo pipefail
OUT=${OUT:-/tmp/cuda-check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 RML_LAMA_TEST_DEVICE=cuda
PY=${PYTHON:-python3}
nvidia-smi -L
$PY -c "import torch, transformers, tokenizers; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'tokenizers', tokenizers.__version__, torch.cuda.get_device_name())"
skip=()
if ! $PY -c "import datasets" 2>/dev/null; then  # a bare GPU image: skip what reads the dataset
    for f in tests/harness/test_evaluate.py tests/harness/test_distributed.py \
             tests/models/test_splits.py tests/models/test_tiny.py; do skip+=("--ignore=$f"); done
fi
timeout "${TEST_LIMIT:-200}" $PY -m pytest -q -p no:cacheprovider -n "${WORKERS:-4}" -rfE "${skip[@]}" \
    tests/attribution tests/adapters tests/localizers tests/tasks tests/harness tests/models \
    2>&1 | tee "$OUT/pytest-cuda.log" | tail -40
bench() { timeout "${BENCH_LIMIT:-150}" $PY benchmarks/bench_attribution.py --device cuda --no-sweep "$@" \
    2>&1 | tee -a "$OUT/bench-cuda.log"; }
for dtype in float32 bfloat16; do
    for rows in 256 4096; do bench --dtype "$dtype" --max-rows "$rows"; done
done
for dtype in float32 bfloat16; do
    for rows in 256 1024; do bench --dtype "$dtype" --max-rows "$rows" --n-embd 2048 --layers 24 --steps 5; done
done
