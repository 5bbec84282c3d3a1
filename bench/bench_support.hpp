#pragma once
// Helpers shared by the benchmarks: interleaved best-of-N wall times, the machine's load and its
// matrix-product speed.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ganaug/runtime.hpp"

namespace ganaug::bench {

/// Wall time of one call of `work`, in seconds.
inline double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Best wall times of `repeats` rounds; each round runs every entry of `works` once, so that
/// the variants being compared see the same background load.
inline std::vector<double> best_of_interleaved(int repeats,
                                               const std::vector<std::function<void()>>& works) {
  std::vector<double> best(works.size(), 1e300);
  for (int r = 0; r < repeats; ++r) {
    for (size_t w = 0; w < works.size(); ++w) best[w] = std::min(best[w], seconds_of(works[w]));
  }
  return best;
}

/// "0.12 (1 min), 0.30 (5 min)" from /proc/loadavg: a busy machine makes every figure suspect.
inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one + " (1 min), " + five + " (5 min)";
}

// The machine's matrix-product speed with every core on it (BLAS threads = hardware threads;
// the library itself keeps OpenBLAS on one thread, see configure_threads).
inline double matmul_gflops() {
  torch::NoGradGuard no_grad;
  ganaug::set_blas_threads(ganaug::hardware_threads());
  auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::mm(a, b);
  double best = 1e9;
  for (int r = 0; r < 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    torch::mm(a, b);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  ganaug::set_blas_threads(1);
  return 2.0 * 1024 * 1024 * 1024 / best / 1e9;
}

}  // namespace ganaug::bench
