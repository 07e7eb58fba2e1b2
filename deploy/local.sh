#!/bin/bash
# A sharded gennas rank on one machine, with the cluster recipes' contract: N shard processes,
# P at a time (xargs -P), then the merge, which writes what one unsharded run would have.
#   deploy/local.sh 4 2 --truth ../shared/data/nb201.csv --sample 100
# Arguments: N, P, then gennas rank's flags. Environment: GENNAS_RUNS (gennas-runs/local),
# GENNAS (deno run -A <this repo>/cli.ts). Rerunning the same line resumes unfinished shards.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 <shards> <at once> <gennas rank flags>" >&2
  exit 2
fi
shards=$1 concurrent=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${GENNAS_RUNS:-gennas-runs/local}
read -ra gennas <<<"${GENNAS:-deno run -A $repo/cli.ts}"
mkdir -p "$runs"
seq 0 $((shards - 1)) | xargs -P "$concurrent" -I'{i}' \
  "${gennas[@]}" rank --shard "{i}/$shards" --out "$runs/rank-{shard}.jsonl" "$@"
"${gennas[@]}" merge "$runs"/rank-*-of-"$shards".jsonl --out "$runs/rank.jsonl" --report "$runs/rank.html"
