#!/usr/bin/env bash
# Installs ganaug from BUILD_DIR into a temporary prefix, builds examples/embed against that
# prefix alone (its own CMake project; no path into this source tree), and runs it on a tiny
# image folder made on the spot. Called by `setup.sh test` after the test suite.
#   bash .ci/embed.sh            BUILD_DIR (default ./build), JOBS
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir="$(realpath "${BUILD_DIR:-build}")"
jobs="${JOBS:-$(nproc)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ganaug-embed.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "embed: installing ganaug into $work/prefix"
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"
# The example is copied out, so that nothing can find the sources by a relative path.
cp -r examples/embed "$work/src"
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j "$jobs" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
# Nothing of the source tree in how it was built: the cache, and the compile and link lines
# (build.ninja with Ninja, the target's flags.make and link.txt with Make).
build_files=("$work/build/CMakeCache.txt")
for f in "$work/build/build.ninja" "$work/build/CMakeFiles/embed.dir/flags.make" \
         "$work/build/CMakeFiles/embed.dir/link.txt"; do
  if [ -f "$f" ]; then build_files+=("$f"); fi
done
if [ "${#build_files[@]}" -lt 2 ]; then
  echo "embed: found neither build.ninja nor flags.make in $work/build" >&2
  exit 1
fi
if grep -q "$(pwd)" "${build_files[@]}"; then
  echo "embed: the example's build refers to the source tree $(pwd)" >&2
  exit 1
fi

python3 tests/scripts/make_tiny_folder.py "$work/data" --classes 3 --per-class 10 --size 16
"$work/build/embed" "$work/data" "$work/grid.png" 30 20 | tee "$work/out.txt"
test -s "$work/grid.png"
grep -q "wrote 30 synthetic images" "$work/out.txt"
test "$(grep -Ec '^  class[0-2]: 10$' "$work/out.txt")" = 3  # cond: 10 of each class
echo "embed: the installed package builds and runs examples/embed"
