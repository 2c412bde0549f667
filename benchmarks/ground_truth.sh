#!/usr/bin/env bash
# The ground-truth measurement of docs/ground-truth.md: plant into tiny-gpt and tiny-bert
# (cached after the first build), then score MATRICE, AMIG, KN, Random and mean-IG against the
# planted agnostic neurons, with suppress/enhance beside. Wall and CPU time per step.
#   bash benchmarks/ground_truth.sh [FACTS]     (default 20)
set -euo pipefail
FACTS="${1:-20}"
PY="${PY:-python}"
for base in tiny-gpt tiny-bert; do
  /usr/bin/time -f "planted:$base run: wall %e s, cpu %U+%S s" \
    "$PY" -m harness.cli --model "planted:$base" --localizer matrice,amig,kn,random,mean-ig \
      --tasks ground-truth,suppress-enhance --facts "$FACTS" --threads 1 -q \
      --out "runs/ground-truth-$base"
done
