#!/usr/bin/env bash
# run_fuzz.sh TARGET CORPUS [libFuzzer options...]
# Fuzzes TARGET starting from CORPUS without changing it: new inputs and any
# crash go to a scratch directory. On a crash the input is printed in base64,
# so that a CI log is enough to reproduce it (base64 -d > crash; TARGET crash).
set -uo pipefail
target=$1 corpus=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new"
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
"$target" -artifact_prefix="$work/" -rss_limit_mb=2048 -timeout=20 "$@" "$work/new" "$corpus"
rc=$?
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  [ -e "$f" ] || continue
  echo "run_fuzz: $(basename "$f") ($(stat -c %s "$f") bytes), base64:"
  base64 -w 0 "$f"
  echo
done
exit $rc
