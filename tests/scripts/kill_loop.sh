#!/usr/bin/env bash
# Kill loop: SIGKILLs `augment` at random moments (loading, GAN training, checkpoint writing,
# generation, manifest writing, retraining) at least KILLS times on a tiny dataset, resuming each
# time, and checks that every run's end state equals an uninterrupted run: the same images byte
# for byte, the same labels.csv, run.json and GAN checkpoint, a summary.json, and no temporary
# files.
#
# usage: kill_loop.sh AUGMENT_EXE WORK_DIR [KILLS=24] [SEED=1]
# Prints one line per kill (delay, what the folder held) and a closing verdict; exits 1 on any
# difference.
set -euo pipefail
augment="$1"
work="$2"
kills="${3:-24}"
seed="${4:-1}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -rf "$work"
mkdir -p "$work"
python3 "$here/make_tiny_folder.py" "$work/data" --classes 3 --per-class 12 --size 16

# Checkpoints every 15 of 60 GAN steps so that kills land while one is written and runs resume
# from them; small generation batches so that kills land between manifest appends; classifier
# epochs so that kills land in the baseline and retraining stages too.
args=(--data "$work/data" --per-class 0 --gan-steps 60 --checkpoint-every 15 --n 400
      --generate-batch 20 --epochs 3 --device cpu --threads 1 --quiet)

start=$(date +%s.%N)
"$augment" "${args[@]}" --out "$work/reference"
reference_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "kill loop: uninterrupted run took ${reference_s} s"

RANDOM=$seed
# What the folder holds when a kill lands: a rough name for the stage it interrupted.
stage_of() {
  local out="$1"
  if [ -f "$out/summary.json" ]; then echo "finished"
  elif [ -f "$out/labels.csv" ]; then
    local rows; rows=$(($(wc -l <"$out/labels.csv") - 1))
    if [ "$rows" -ge 400 ]; then echo "retraining"; else echo "generation ($rows listed)"; fi
  elif [ -f "$out/gan/log.csv" ]; then echo "GAN training ($(($(wc -l <"$out/gan/log.csv") - 1)) log rows)"
  elif [ -f "$out/run.json" ]; then echo "start of GAN training"
  else echo "loading"; fi
}

# Episodes: each starts from an empty folder and SIGKILLs the run at a random moment, resumes,
# kills again, ... until a run finishes; then the folder must equal the reference. Episodes
# repeat until KILLS kills landed in all.
failures=0
check() { if ! "$@"; then echo "kill loop: FAILED: $*"; failures=$((failures + 1)); fi; }
done_kills=0
episodes=0
while [ "$done_kills" -lt "$kills" ]; do
  episodes=$((episodes + 1))
  out="$work/episode-$episodes"
  while true; do
    delay=$(awk -v r="$RANDOM" -v t="$reference_s" 'BEGIN { printf "%.3f", 0.2 + r / 32768 * t }')
    "$augment" "${args[@]}" --out "$out" --resume &
    pid=$!
    # Wait for the delay or for the run to end, whichever comes first.
    deadline=$(awk -v d="$delay" -v now="$(date +%s.%N)" 'BEGIN { printf "%.3f", now + d }')
    while kill -0 "$pid" 2>/dev/null &&
          awk -v d="$deadline" -v now="$(date +%s.%N)" 'BEGIN { exit !(now < d) }'; do
      sleep 0.05
    done
    if kill -KILL "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      done_kills=$((done_kills + 1))
      echo "kill $done_kills (episode $episodes) after ${delay} s: $(stage_of "$out")"
    else
      status=0
      wait "$pid" || status=$?
      [ "$status" -eq 0 ] || { echo "kill loop: a run failed on its own (status $status)"; exit 1; }
      break
    fi
  done
  check diff -r -q "$work/reference/images" "$out/images"
  check cmp "$work/reference/labels.csv" "$out/labels.csv"
  check cmp "$work/reference/run.json" "$out/run.json"
  check cmp "$work/reference/gan/checkpoint.pt" "$out/gan/checkpoint.pt"
  check test -f "$out/summary.json"
  stray=$(find "$out" -name '*.tmp*')
  check test -z "$stray"
  [ "$failures" -eq 0 ] || break
  rm -rf "$out"
done
echo "kill loop: $done_kills kills in $episodes episodes"
if [ "$failures" -eq 0 ]; then
  echo "kill loop: every episode's end state equals the uninterrupted run"
else
  exit 1
fi
