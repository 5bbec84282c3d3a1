#!/usr/bin/env bash
# GAN training speed against the Python references, measured in one run: bench_gan (ganaug's
# default model) and bench/reference_cgan.py (plain PyTorch eager: the conditional DCGAN of
# FACTS.md, and ganaug's own model written in PyTorch), interleaved over ROUNDS rounds so that
# all see the same background load; the best images/s of each, and the ratios.
# Usage: bench/gan_vs_python.sh [BUILD_DIR] (default build). Environment: ROUNDS (3),
# ITERATIONS (60), PYTHON (a python3 with torch; default /usr/bin/python3, Debian's python3-torch),
# OTHER_BUILD (another build folder, e.g. of an older commit: its bench_gan is timed in the same
# rounds and compared), PRECISION (fp32, or bf16: every side under autocast to bfloat16; on the
# CPU it needs bfloat16 instructions).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
rounds="${ROUNDS:-3}"
iterations="${ITERATIONS:-60}"
python="${PYTHON:-/usr/bin/python3}"
precision="${PRECISION:-fp32}"
"$python" -c 'import torch' 2>/dev/null || { echo "gan_vs_python.sh: $python has no torch (apt-get install python3-torch)" >&2; exit 1; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
ganaug=0 dcgan=0 same=0 matmul=0 other=0
# images/s of a bench_gan's output
gan_rate() { sed -n 's/^training (batch [0-9]*, [0-9]* iterations): \([0-9.]*\) images\/s.*/\1/p' <<<"$1"; }
echo "precision: $precision"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  rate=$("$python" bench/reference_cgan.py --model dcgan --iterations "$iterations" --precision "$precision" | awk '{print $2}')
  dcgan=$(best "$dcgan" "$rate")
  out=$("$build/bench/bench_gan" --iterations "$iterations" --precision "$precision")
  ganaug=$(best "$ganaug" "$(gan_rate "$out")")
  if [ -n "${OTHER_BUILD:-}" ]; then
    other=$(best "$other" "$(gan_rate "$("$OTHER_BUILD/bench/bench_gan" --iterations "$iterations")")")
  fi
  mm=$(sed -n 's/^matrix product 1024x1024: \([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$out")
  matmul=$(best "$matmul" "$mm")
  flops=$(sed -n 's/.*training MFLOP\/image \([0-9.]*\).*/\1/p' <<<"$out")
  rate=$("$python" bench/reference_cgan.py --model ganaug --iterations "$iterations" --precision "$precision" | awk '{print $2}')
  same=$(best "$same" "$rate")
  echo "round $round: ganaug $ganaug, python dcgan $dcgan, python same model $same images/s (best so far)${OTHER_BUILD:+, $OTHER_BUILD $other}"
done
if [ -n "${OTHER_BUILD:-}" ]; then
  awk -v g="$ganaug" -v o="$other" -v d="$OTHER_BUILD" 'BEGIN {
    printf "%s: %.0f images/s: this build is %.2fx\n", d, o, g / o }'
fi
awk -v g="$ganaug" -v d="$dcgan" -v s="$same" -v m="$matmul" -v f="$flops" 'BEGIN {
  printf "ganaug %.0f images/s = %.0f GFLOP/s = %.0f%% of the best 1024x1024 matrix product (%.0f GFLOP/s)\n", g, g * f / 1e3, 100 * g * f / 1e3 / m, m
  printf "python conditional DCGAN (FACTS.md reference) %.0f images/s: ganaug is %.2fx\n", d, g / d
  printf "python, ganaug'"'"'s model %.0f images/s: ganaug is %.2fx\n", s, g / s }'
