#!/usr/bin/env bash
# ganaug on a GPU machine that has PyTorch (CUDA), CMake and a compiler but none of Debian's
# packages: builds against the PyTorch wheel's LibTorch with the bundle that
# bench/gpu/make_deps_bundle.sh made here (.gpu/deps.tar.xz), then runs the stages asked for.
#   bash bench/gpu/run.sh [all] [env] [build] [test] [cuda-tests] [bench] [run] [select] [debug]
# all: env build cuda-tests test run bench select, in that order (what the device budget of one
# session, about 15 minutes, holds with room for a rerun).
# Environment: OUT (logs; default gpu-out), DEADLINE_S (seconds for all stages, default 570),
#   TARGETS (ninja targets to build, default all), RUN_SEEDS (seeds of the default run, default 0),
#   RUN_GRAPHS (its --cuda-graphs values, default "on off"), RUN_ARGS (extra augment arguments),
#   GRAPHS (bench_gan's --cuda-graphs values, default "on off"), TEST_REGEX (ctest -R),
#   BENCH_ARGS (extra bench_gan arguments), BENCH_CONFIGS ("SIZE CHANNELS BATCH [cb],...";
#   c: the PyTorch model also NCHW, b: ganaug also in bf16),
#   SELECT_CONFIGS ("GAN_BATCH PRECISION,..."; augment-bench on the validation split at 50 and
#   100 labeled images per class, one seed: FCD, class faithfulness and the smooth scheme's gain
#   per GAN batch and precision), SELECT_ARGS (extra augment-bench arguments).
# Files: .gpu/deps.tar.xz (the bundle), .gpu/fashion-mnist/*.gz (the default dataset).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
start=$(date +%s)
deadline=$((start + ${DEADLINE_S:-570}))
left() { echo $((deadline - $(date +%s))); }
log() { echo "[$(($(date +%s) - start)) s] $*"; }
D=$root/.gpu/deps
B=$root/build-gpu
py=$(command -v python3)

# The bundle: unpacked once; libraries the system already has are taken from the system.
if [ ! -d "$D" ]; then
  tar -C .gpu -xJf .gpu/deps.tar.xz
  for f in "$D"/rt/* "$D"/lib/libz.so.*; do
    name=$(basename "$f")
    if ldconfig -p | grep -q "^[[:space:]]*$name "; then rm -f "$f"; fi
  done
  if [ ! -e "$D/lib/libz.so" ]; then
    ln -sf "$(ldconfig -p | awk '/^[[:space:]]*libz\.so\.1 .*x86-64/{print $NF; exit}')" "$D/lib/libz.so"
  fi
fi
export LD_LIBRARY_PATH="$D/lib:$D/rt${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -d .gpu/fashion-mnist ] && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  mkdir -p /usr/share/datasets && cp -r .gpu/fashion-mnist /usr/share/datasets/
fi
torch_dir=$($py -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "share", "cmake", "Torch"))')

stages=("$@")
[ "${stages[*]}" = all ] && stages=(env build cuda-tests test run bench select)
for stage in "${stages[@]}"; do
  log "stage $stage ($(left) s left)"
  case $stage in
    env)
      { nvidia-smi; cat /etc/os-release; c++ --version; cmake --version; nproc
        $py -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.compiled_with_cxx11_abi())'
      } >"$out/env.log" 2>&1
      cat "$out/env.log" ;;
    build)
      if [ ! -f "$B/build.ninja" ]; then
        cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
          -DCMAKE_FIND_PACKAGE_PREFER_CONFIG=ON -DOpenCV_DIR="$D/cmake" -DTBB_DIR="$D/cmake" \
          -Dnlohmann_json_DIR="$D/cmake" -DBoost_DIR="$D/cmake" -DGTest_DIR="$D/cmake" \
          -DZLIB_ROOT="$D" -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_CUDA_ARCHITECTURES=90 \
          >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
      fi
      timeout "$(left)" ninja -C "$B" -k 0 ${TARGETS:-} >"$out/build.log" 2>&1
      rc=$?
      grep -E "error|FAILED" "$out/build.log" | head -40
      tail -3 "$out/build.log"
      log "build rc=$rc" ;;
    test)
      (cd "$B" && OMP_NUM_THREADS=2 timeout "$(left)" ctest -j 8 --timeout 300 -LE slow \
        ${TEST_REGEX:+-R "$TEST_REGEX"} --output-on-failure) >"$out/test.log" 2>&1
      grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|Not Run|\*\*\*" "$out/test.log" | head -40 ;;
    cuda-tests)
      (cd "$B" && timeout "$(left)" ctest -R _CUDA -V --timeout 300) >"$out/cuda-tests.log" 2>&1
      grep -E "^\S*[0-9]+: \[ +(OK|FAILED|SKIPPED) +\]|tests passed|tests failed" "$out/cuda-tests.log" ;;
    bench)
      # Interleaved: ganaug (C++, with and without CUDA graphs) and the same model in PyTorch
      # eager, at each size and batch.
      # NCHW against channels-last is measured on the PyTorch model (ganaug is channels-last).
      IFS=, read -r -a configs <<<"${BENCH_CONFIGS:-28 1 64 c,28 1 1024 cb,28 1 4096 b,64 3 256 c,64 3 1024 b}"
      for cfg in "${configs[@]}"; do
        set -- $cfg
        [ "$(left)" -lt 30 ] && break
        variants=""
        for graphs in ${GRAPHS:-on off}; do variants="$variants $graphs:fp32"; done
        case "${4:-}" in *b*) variants="$variants on:bf16" ;; esac
        for variant in $variants; do
          timeout "$(left)" "$B/bench/bench_gan" --device cuda --image-size "$1" --channels "$2" \
            --batch-size "$3" --iterations 200 --generate-batch 5000 --json "$out/tmp.json" \
            --cuda-graphs "${variant%%:*}" --precision "${variant##*:}" ${BENCH_ARGS:-} \
            >/dev/null && cat "$out/tmp.json" >>"$out/bench.jsonl"
        done
        formats=channels_last
        case "${4:-}" in *c*) formats="channels_last contiguous" ;; esac
        for format in $formats dcgan; do
          model=ganaug
          [ $format = dcgan ] && model=dcgan format=channels_last
          timeout "$(left)" $py bench/reference_cgan.py --device cuda --model $model --json \
            --memory-format $format --image-size "$1" --channels "$2" --batch-size "$3" \
            --iterations 200 >>"$out/bench.jsonl"
        done
      done
      rm -f "$out/tmp.json"
      cat "$out/bench.jsonl" ;;
    run)
      # The default run, with the training steps as CUDA graphs and without (the same seed).
      for seed in ${RUN_SEEDS:-0}; do
        for graphs in ${RUN_GRAPHS:-on off}; do
          [ "$(left)" -lt 60 ] && break
          dir=$root/gpu-run-$seed-$graphs
          rm -rf "$dir"
          t0=$(date +%s.%N)
          timeout "$(left)" "$B/tools/augment" --scheme smooth --n 5000 --seed "$seed" \
            --cuda-graphs "$graphs" --out "$dir" ${RUN_ARGS:-} >"$out/run-$seed-$graphs.log" 2>&1
          rc=$?
          t1=$(date +%s.%N)
          echo "seed $seed graphs $graphs rc $rc wall $(awk "BEGIN{print $t1 - $t0}") s" |
            tee -a "$out/run.log"
          cp "$dir/summary.json" "$out/run-$seed-$graphs-summary.json" 2>/dev/null
          tail -5 "$out/run-$seed-$graphs.log"
        done
      done ;;
    select)
      # The GAN's batch and precision on the validation split (augment-bench, one seed).
      IFS=, read -r -a configs <<<"${SELECT_CONFIGS:-64 fp32,256 fp32,1024 fp32,1024 bf16}"
      for cfg in "${configs[@]}"; do
        set -- $cfg
        [ "$(left)" -lt 60 ] && break
        name=select-$1-$2
        rm -rf "$root/gpu-$name"
        t0=$(date +%s)
        timeout "$(left)" "$B/tools/augment-bench" --sizes 50,100 --seeds 1 --schemes none,smooth \
          --validation 0.1 --evaluate-on validation --gan-batch "$1" --precision "$2" \
          --out "$root/gpu-$name" ${SELECT_ARGS:-} >"$out/$name.log" 2>&1
        echo "$name rc $? wall $(($(date +%s) - t0)) s" | tee -a "$out/select.log"
        for f in results.json results.csv report.md; do
          cp "$root/gpu-$name/$f" "$out/$name-$f" 2>/dev/null
        done
        grep -E "FCD|faithful|smooth" "$out/$name.log" | tail -6
      done ;;
    debug)
      # Where the tests' headers come from, and a backtrace of a few failing tests.
      gdb=$(command -v cuda-gdb || ls /usr/local/cuda*/bin/cuda-gdb 2>/dev/null | head -1)
      {
        grep -o '"command": "[^"]*test_file_io.cpp[^"]*"' "$B/compile_commands.json" | head -1
        find / -xdev -name gtest.h -path '*gtest/gtest.h' 2>/dev/null | head
        for t in ${DEBUG_TESTS:-"test_file_io FileIo.ErrorsNameThePathAndTheReason" \
          "test_generate *CUDA" "test_gan *RepeatsAndMoves*"}; do
          set -- $t
          echo "=== $1 $2"
          timeout 120 "$gdb" -batch -ex run -ex bt --args "$B/tests/$1" "--gtest_filter=$2" 2>&1 |
            grep -v -E "^\[(New|Thread)|^warning" | tail -30
        done
      } >"$out/debug.log" 2>&1
      cat "$out/debug.log" ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
done
log "done"
