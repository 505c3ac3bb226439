#!/usr/bin/env bash
# Throughput of `fluxj batch` against a loop of `fluxj generate` calls making the same images, measured in the
# same run (the ratio is the figure to keep on a shared or noisy machine). Also checks the images are identical.
# usage: scripts/bench_batch.sh [MODEL] [IMAGES] [SIZE] [STEPS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-$here/../shared/fixtures/models/flux1-tiny-schnell}"
n="${2:-12}" size="${3:-64}" steps="${4:-4}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fluxj-bench-batch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$here/fluxj" --version >/dev/null # builds the jar first, outside the timings

for i in $(seq 0 $((n - 1))); do
  echo "{\"id\":\"img$i\",\"prompt\":\"picture number $i of a quiet harbour\",\"seed\":$i,\"width\":$size,\"height\":$size,\"steps\":$steps}"
done >"$work/rows.jsonl"

now() { date +%s.%N; }
t0=$(now)
"$here/fluxj" batch --manifest "$work/rows.jsonl" --output-dir "$work/batch" --model "$model" --quiet 2>/dev/null
t1=$(now)
mkdir "$work/loop"
for i in $(seq 0 $((n - 1))); do
  "$here/fluxj" generate --model "$model" --prompt "picture number $i of a quiet harbour" --seed "$i" \
    --width "$size" --height "$size" --steps "$steps" --output "$work/loop/img$i.png" --quiet
done
t2=$(now)

same=0
for i in $(seq 0 $((n - 1))); do cmp -s "$work/batch/img$i.png" "$work/loop/img$i.png" && same=$((same + 1)); done
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v same="$same" -v size="$size" -v steps="$steps" 'BEGIN {
  b = t1 - t0; l = t2 - t1
  printf "%d images of %dx%d, %d steps (wall clock, one process per command)\n", n, size, size, steps
  printf "fluxj batch:            %7.1f s  %6.1f images/min\n", b, n * 60 / b
  printf "loop of fluxj generate: %7.1f s  %6.1f images/min\n", l, n * 60 / l
  printf "batch / loop throughput: %.1fx; identical PNGs: %d of %d\n", l / b, same, n
}'
