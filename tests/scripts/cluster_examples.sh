#!/usr/bin/env bash
# Runs the Slurm examples of examples/cluster/ here, without Slurm: the variables Slurm would set
# are set by hand, and a stand-in `srun` starts SLURM_NTASKS local copies of its command. Checks
# that the sharded array plus its merge give the single-process folder byte for byte, that the
# multi-node training script trains one generator with two ranks, and that the bench grid as an
# array plus its merge gives the rows of one run.
# Usage: cluster_examples.sh TOOLS_DIR WORK_DIR
set -euo pipefail
tools="$(cd "$1" && pwd)"
work="$2"
examples="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/cluster" && pwd)"
rm -rf "$work"
mkdir -p "$work/bin"
python3 "$(dirname "${BASH_SOURCE[0]}")/make_tiny_folder.py" "$work/data" --classes 3 --per-class 8 --size 16
export PATH="$tools:$work/bin:$PATH" DATA="$work/data" AUGMENT_ARGS="--per-class 0 --threads 1"
# srun: one copy of the command per task, with its SLURM_PROCID and SLURM_LOCALID.
cat >"$work/bin/srun" <<'SRUN'
#!/usr/bin/env bash
pids=()
for ((rank = 0; rank < SLURM_NTASKS; rank++)); do
  SLURM_PROCID=$rank SLURM_LOCALID=$rank "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
SRUN
chmod +x "$work/bin/srun"

# A build without Gloo (a LibTorch wheel has no Gloo headers) trains with one task.
tasks=2
augment --version | grep -q "several processes (WORLD_SIZE > 1): yes" || tasks=1
echo "== train_multinode.sbatch with $tasks tasks"
SLURM_JOB_ID=4242 SLURM_NTASKS=$tasks SLURM_JOB_NODELIST=localhost MASTER_ADDR=127.0.0.1 \
  GAN_ITERS=4 OUT="$work/trained" bash "$examples/train_multinode.sbatch"
[ $tasks = 1 ] || grep -q '"world_size": 2' "$work/trained/summary.json"
test -f "$work/trained/gan/checkpoint.pt"

echo "== generate_shards.sbatch as a 3-task array numbered from 1, then merge_shards.sbatch"
export GENERATOR="$work/trained/gan/checkpoint.pt" N=1234 OUT="$work/gen"
for task in 1 2 3; do
  SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 \
    bash "$examples/generate_shards.sbatch" >/dev/null
done
bash "$examples/merge_shards.sbatch"
augment --data "$DATA" --generator "$GENERATOR" --no-retrain --scheme smooth --n "$N" \
  --generate-batch 500 --out "$work/single" --quiet $AUGMENT_ARGS
cmp "$work/gen/merged/labels.csv" "$work/single/labels.csv"
diff -r "$work/gen/merged/images" "$work/single/images"
echo "== bench_grid.sbatch as a 2-task array, then merge_bench.sbatch"
export OUT="$work/bench" BENCH_ARGS="--data $DATA --sizes 3 --seeds 2 --schemes none,cond --multiples 1
  --gan-steps 2 --epochs 1 --reference-epochs 1 --metric-samples 12 --threads 1 --quiet"
for task in 0 1; do
  SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=2 \
    bash "$examples/bench_grid.sbatch"
done
bash "$examples/merge_bench.sbatch" >/dev/null
augment-bench $BENCH_ARGS --out "$work/bench-single"
diff <(cut -d, -f1-8 "$work/bench/merged/results.csv") <(cut -d, -f1-8 "$work/bench-single/results.csv")
test -f "$work/bench/merged/report.md"
echo "cluster examples: ok"
