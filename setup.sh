#!/usr/bin/env bash
# ganaug set-up: installs the Debian 12 packages that are missing, configures, builds, then runs
# one of:
#   bash setup.sh run    -> builds the augment tool only, then augment --scheme smooth --n 5000
#                           on the default dataset (Fashion-MNIST)
#   bash setup.sh test   -> the whole test suite through ctest, the installed package with
#                           examples/embed built against it (.ci/embed.sh), then the sanitizer
#                           suite and the fuzzers (.ci/fuzz.sh; FUZZ=0 skips them)
#   bash setup.sh build  -> only install and build
# Idempotent: installed packages are skipped, an existing build folder is reused.
# Environment: BUILD_DIR (default ./build), JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode="${1:-build}"
shift || true
build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"

packages=(cmake ninja-build g++ make pkg-config libtorch-dev libopenblas0-pthread libopencv-dev libtbb-dev
          libboost-program-options-dev libgtest-dev libgloo-dev zlib1g-dev nlohmann-json3-dev
          dataset-fashion-mnist python3 ccache)
# The test mode also runs the sanitizer suite and the fuzzers (.ci/fuzz.sh): clang, its
# libFuzzer/sanitizer runtimes (only recommended by clang, so named) and llvm-symbolizer; checks
# the Python export and TorchScript classifiers against PyTorch (python3-torch); and renders
# report.html in a real browser (chromium, headless).
if [ "$mode" = test ]; then packages+=(clang libclang-rt-14-dev llvm-14 python3-torch chromium); fi

missing=()
for p in "${packages[@]}"; do
  # No `| grep -q` under pipefail: grep stops at the first match, and a writer still writing then
  # fails the pipeline (SIGPIPE).
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# LibTorch calls the system libblas.so.3; the reference BLAS is 35x slower than OpenBLAS
# (FACTS.md). Installing libopenblas0-pthread switches the alternative; say so if it did not.
blas="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)"
if command -v update-alternatives >/dev/null && ! grep -q "^Value: .*openblas" <<<"$blas"; then
  echo "setup: warning: libblas.so.3 does not point to OpenBLAS; CPU training will be slow" >&2
fi

# Ninja for new build folders (here, and those of .ci/embed.sh and .ci/fuzz.sh): unlike Make it
# compiles a target's sources while the libraries it links are still building, which keeps both
# cores busy (bench/RESULTS.md, "Build time"). A folder configured before keeps its generator.
if command -v ninja >/dev/null; then export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"; fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "$mode" = run ]; then
  # The first result sooner: only the augment tool and the libraries it links, not the other
  # tools, the tests, the benchmarks and the fuzzers (`build` and `test` build everything).
  cmake --build "$build_dir" -j "$jobs" --target augment
else
  cmake --build "$build_dir" -j "$jobs"
fi

case "$mode" in
  build) ;;
  test)
    # ctest runs $jobs tests at once, each with LibTorch's OpenMP threads: threads that spin while
    # they wait take the cores the other tests need (two tests at once took 36 s instead of 2 s;
    # bench/RESULTS.md, "CI time"). Waiting threads sleep instead; the arithmetic is the same.
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
    (cd "$build_dir" && ctest --output-on-failure -j "$jobs" "$@")
    BUILD_DIR="$build_dir" JOBS="$jobs" bash .ci/embed.sh
    if [ "${FUZZ:-1}" != 0 ]; then JOBS="$jobs" bash .ci/fuzz.sh all; fi ;;
  run) "$build_dir/tools/augment" --scheme smooth --n 5000 "$@" ;;
  *) echo "usage: bash setup.sh [build|test|run] [extra arguments]" >&2; exit 2 ;;
esac
