#!/bin/bash
# search --workers A/B (README "search"): the same small NB-201 search one at a time, with
# --workers 2, and with --workers 2 --asynchronous, twice each after a warm-up run; prints wall
# seconds and peak RSS (GNU time) per run. Usage: bench/search_workers.sh [OUT_DIR]
set -euo pipefail
export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan} XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
cd "$(dirname "$0")/.."
out=${1:-out/search-workers}
mkdir -p "$out"
ARGS=(search --space nb201 --task search-N --population 8 --tournament 3 --iterations 12
  --iters 20 --init-channels 8 --images ../shared/data/cifar10_test_first256.bin --seed 5)
run() {
  local name=$1
  shift
  rm -f "$out/$name.jsonl" "$out/$name.html"
  /usr/bin/time -o "$out/time.txt" -f "%e s %M KiB" \
    deno run -A cli.ts "${ARGS[@]}" --out "$out/$name.jsonl" "$@" >"$out/$name.out" 2>/dev/null
  echo "$name $* : $(cat "$out/time.txt") | $(head -1 "$out/$name.out") | $(grep 'best arch' "$out/$name.out")"
}
run warm
run seq
run w2 --workers 2
run async2 --workers 2 --asynchronous
run seq-b
run w2-b --workers 2
run async2-b --workers 2 --asynchronous
