#!/usr/bin/env bash
# The checks that need a GPU, as one script (run from the repository root on a CUDA machine):
#   1. the tests built on tiny models, with every model on the GPU (RML_LAMA_TEST_DEVICE=cuda),
#      which also runs the CUDA-only engine-vs-reference tests;
#   2. the attribution benchmark on CUDA (engine vs the batched-steps reference; every
#      implementation warmed up with a full call, median of RUNS): float32, TF32 and bfloat16,
#      two chunk sizes, causal and masked; each row with its peak memory
#      (torch.cuda.max_memory_allocated above the level before the call);
#   3. the projection: attribute() timed on random models of mGPT's and LLaMA-3-8B's exact
#      shapes (after a full warm-up call, median of RUNS), MATRICE (SAIG) and AMIG, and the
#      GPU-hours for the whole dataset (291,132 queries) from the measured time per query,
#      and the peak memory allocated (weights included).
# Logs go to $OUT (default /tmp/cuda-check). Each step has its own time limit; with about
# 10 minutes in all: TEST_LIMIT=120 BENCH_LIMIT=60 PROJ_LIMIT=150 (the defaults).
set -uo pipefail
OUT=${OUT:-/tmp/cuda-check}
RUNS=${RUNS:-5}
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
if [ -z "${SKIP_TESTS:-}" ]; then
    timeout "${TEST_LIMIT:-120}" $PY -m pytest -q -p no:cacheprovider -n "${WORKERS:-4}" -rfE "${skip[@]}" \
        tests/attribution tests/adapters tests/localizers \
        2>&1 | tee "$OUT/pytest-cuda.log" | tail -20
fi
bench() { timeout "${BENCH_LIMIT:-60}" $PY benchmarks/bench_attribution.py --device cuda --no-plain \
    --runs "$RUNS" --lengths 10 "$@" 2>&1 | tee -a "$OUT/bench-cuda.log"; }
for dtype in float32 tf32 bfloat16; do
    for rows in 256 2048; do bench --model causal --dtype "$dtype" --max-rows "$rows"; done
done
bench --model masked --dtype float32
proj() { timeout "${PROJ_LIMIT:-150}" $PY benchmarks/projection.py --gpu --runs "$RUNS" "$@" \
    2>&1 | tee -a "$OUT/projection-cuda.log"; }
proj --dtype tf32 --max-rows 1024
proj --dtype bfloat16 --max-rows 1024
proj --dtype float32 --max-rows 1024
