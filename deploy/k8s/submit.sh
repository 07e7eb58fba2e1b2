#!/bin/bash
# Runs deploy/k8s on the current kubectl context: the volume, the Indexed Job of shards, and once
# it is complete the merge Job, whose log (the metrics) it prints. The image gennas:0.1.0 must be
# pullable by the nodes (build it with deploy/Dockerfile; push it and edit `image:` if needed).
# To run again, first: kubectl delete job gennas-rank gennas-merge
set -euo pipefail
here=$(dirname "$0")

# Waits until job $1 is Complete (returns 0) or Failed (returns 1).
wait_job() {
  local state
  while true; do
    state=$(kubectl get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
    case " $state " in
      *" Complete "*) return 0 ;;
      *" Failed "*)
        echo "job $1 failed: kubectl describe job $1; kubectl logs -l job-name=$1" >&2
        return 1
        ;;
    esac
    sleep 30
  done
}

kubectl apply -f "$here/storage.yaml"
kubectl apply -f "$here/rank-job.yaml"
wait_job gennas-rank
kubectl apply -f "$here/merge-job.yaml"
wait_job gennas-merge
kubectl logs job/gennas-merge
