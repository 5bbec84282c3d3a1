#!/usr/bin/env bash
# Queues the bench grid as a job array and, after it, the merge of its shards (afterok: only if
# every task succeeded).
# Usage: OUT=/shared/bench BENCH_ARGS="--sizes 20,50 --seeds 10" ./submit_bench.sh [TASKS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tasks="${1:-10}"
array=$(sbatch --parsable --export=ALL --array="0-$((tasks - 1))" bench_grid.sbatch)
sbatch --export=ALL --dependency="afterok:${array}" merge_bench.sbatch
echo "queued bench array $array ($tasks tasks) and its merge"
