#!/usr/bin/env bash
# Training step time, attnlab against PyTorch, measured in the same session on
# the same machine: configs A-D of issue 13 for GPT, BERT and T5. PyTorch runs
# with --best 2 (the fastest split of the cores between its threads and
# OpenBLAS's). Prints a Markdown table of ms/step and the factor PyTorch/ours
# (above 1: attnlab is faster). Needs Debian's python3-torch and a build with
# -DATTNLAB_BUILD_BENCH=ON.
#   bench/vs_torch.sh [configs (default "A B C D")] [models (default "gpt bert t5")]
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-"A B C D"}
models=${2:-"gpt bert t5"}
peer=${TORCH_REF:-../shared/bench/torch_ref.py}
# Debian's PyTorch multiplies matrices through libblas.so.3: without OpenBLAS
# that is the reference BLAS, about 10x slower, and the comparison would flatter us.
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "vs_torch.sh: PyTorch is missing: apt-get install python3-torch" >&2
  exit 2
fi
if ! ls -l /etc/alternatives/libblas.so.3* 2>/dev/null | grep -q openblas; then
  echo "vs_torch.sh: libblas.so.3 is not OpenBLAS, so PyTorch would run on the reference BLAS;" \
       "install it with ATTNLAB_BENCH=1 bash .ci/setup (libopenblas-dev)" >&2
  exit 2
fi
declare -A shape=([A]="64 64 2 4 32 32" [B]="64 128 4 4 64 32" [C]="256 256 6 8 128 16" [D]="512 384 6 6 256 8")
echo "| config | model | attnlab ms/step | PyTorch ms/step | PyTorch / attnlab |"
echo "| --- | --- | --: | --: | --: |"
for c in $configs; do
  read -r V d L H T B <<<"${shape[$c]}"
  steps=$([ "$c" = D ] && echo 5 || echo 10)
  for m in $models; do
    ours=$(build/bench/bench_train --model "$m" --config "$c" --steps "$steps" --threads 2 |
           sed -E 's/.*: ([0-9.]+) ms\/step.*/\1/')
    theirs=$(/usr/bin/python3 "$peer" --model "$m" --vocab "$V" --d "$d" --layers "$L" --heads "$H" \
               --seq "$T" --batch "$B" --steps "$steps" --best 2 |
             sed -E 's/.*: ([0-9.]+) ms\/step.*/\1/')
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", b / a }')
    echo "| $c | $m | $ours | $theirs | $ratio |"
  done
done
