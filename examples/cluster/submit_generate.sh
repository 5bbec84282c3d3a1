#!/usr/bin/env bash
# Queues the sharded generation array and, after it, the merge (which runs only if every task
# of the array succeeded: afterok).
# Usage: GENERATOR=ckpt.pt DATA=data/ OUT=/shared/run N=1000000 ./submit_generate.sh [SHARDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
shards="${1:-8}"
array=$(sbatch --parsable --export=ALL --array="0-$((shards - 1))" generate_shards.sbatch)
sbatch --export=ALL --dependency="afterok:${array}" merge_shards.sbatch
echo "queued generation array $array ($shards shards) and its merge"
