#!/usr/bin/env bash
# The default job, timed: `augment --scheme smooth --n 5000` on the default dataset once, whole
# (wall time, and the stages from summary.json), then its two classifiers again ROUNDS times with
# the generator it trained, --prefetch 2 and --prefetch auto (the default) in alternating order
# so that both see the same background load. The prefetch changes when batches are prepared, not
# which: both must report the same accuracies, which the script checks.
# Usage: bench/default_run.sh [BUILD_DIR] (default build). Environment: ROUNDS (2), OUT (a
# scratch folder, default a new one under /tmp, removed at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
rounds="${ROUNDS:-2}"
out="${OUT:-$(mktemp -d /tmp/ganaug-default-run.XXXXXX)}"
trap 'rm -rf "$out"' EXIT
augment="$build/tools/augment"

# "wall_s baseline_s retrain_s baseline_accuracy retrained_accuracy prefetch" of a summary.json.
fields() {
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); t = s["timings"]
print("%.1f %.1f %.1f" % (t["total_s"], t["baseline_s"], t["retrain_s"]),
      s["baseline"]["accuracy"], s["retrained"]["accuracy"], s.get("prefetch", "-"))' "$1"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
start=$(date +%s.%N)
"$augment" --scheme smooth --n 5000 --quiet --out "$out/default" >/dev/null
wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
read -r total baseline retrain base_acc re_acc prefetch < <(fields "$out/default/summary.json")
printf 'default job: %.1f s wall (augment total %s s; classifiers %s + %s s; prefetch %s); accuracy %s -> %s\n' \
  "$wall" "$total" "$baseline" "$retrain" "$prefetch" "$base_acc" "$re_acc"

generator="$out/default/gan/checkpoint.pt"
declare -A accuracy
for round in $(seq "$rounds"); do
  order=(2 auto)
  if ((round % 2 == 0)); then order=(auto 2); fi
  for p in "${order[@]}"; do
    rm -rf "$out/p$p"
    "$augment" --scheme smooth --n 5000 --quiet --generator "$generator" --prefetch "$p" \
      --out "$out/p$p" >/dev/null
    read -r total baseline retrain base_acc re_acc prefetch < <(fields "$out/p$p/summary.json")
    echo "round $round, --prefetch $p ($prefetch steps): classifiers $baseline + $retrain s; accuracy $base_acc -> $re_acc"
    accuracy[$p]="$base_acc $re_acc"
  done
  if [ "${accuracy[2]}" != "${accuracy[auto]}" ]; then
    echo "default_run.sh: the prefetch changed the accuracies (${accuracy[2]} vs ${accuracy[auto]})" >&2
    exit 1
  fi
done
