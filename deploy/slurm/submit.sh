#!/bin/bash
# Submits a sharded gennas rank to Slurm: a job array of GENNAS_SHARDS shards, at most
# GENNAS_CONCURRENT running at once, and a merge job that starts when every shard has succeeded.
#   deploy/slurm/submit.sh --truth ../shared/data/nb201.csv --sample 1000 --task combo
# The arguments are gennas rank's flags; relative paths are relative to the current directory,
# where the jobs run. Environment: GENNAS_SHARDS (4), GENNAS_CONCURRENT (2), GENNAS_RUNS
# (gennas-runs/sharded: journals, report, Slurm logs), GENNAS (deno run -A <this repo>/cli.ts).
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 <gennas rank flags>, e.g. $0 --truth ../shared/data/nb201.csv --sample 1000" >&2
  exit 2
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
export GENNAS=${GENNAS:-deno run -A $repo/cli.ts}
export GENNAS_SHARDS=${GENNAS_SHARDS:-4}
concurrent=${GENNAS_CONCURRENT:-2}
runs=${GENNAS_RUNS:-gennas-runs/sharded}
mkdir -p "$runs"
array=$(sbatch --parsable --array="0-$((GENNAS_SHARDS - 1))%$concurrent" \
  --output="$runs/slurm-%x-%A_%a.out" "$repo/deploy/slurm/rank.sbatch" "$@")
array=${array%%;*} # --parsable prints "id" or "id;cluster"
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$runs/slurm-%x-%j.out" \
  "$repo/deploy/slurm/merge.sbatch")
merge=${merge%%;*}
echo "submitted $GENNAS_SHARDS shards as job array $array ($concurrent at a time) and merge job $merge"
echo "follow: squeue -j $array,$merge; the result: $runs/rank.jsonl, $runs/rank.html, $runs/slurm-gennas-merge-$merge.out"
