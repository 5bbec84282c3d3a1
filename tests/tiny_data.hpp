#pragma once
// A tiny labeled IDX dataset for end-to-end tests, made on the spot.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>

#include "ganaug/datasets/idx.hpp"

namespace ganaug::testing {

// 3 classes x 12 images of 16x16 (train) and 3 x 4 (t10k): a bright bar whose position is the
// class, on noise drawn with `seed` (LibTorch seeds its global generator at random in C++, so
// the noise is drawn from a generator of its own: every run of a test sees the same data).
inline void write_tiny_idx(const std::filesystem::path& dir, uint64_t seed = 1) {
  auto rng = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::filesystem::create_directories(dir);
  for (const auto& [split, per_class] : {std::pair{"train", 12}, std::pair{"t10k", 4}}) {
    const int64_t n = 3 * per_class;
    auto pixels = torch::randint(0, 40, {n, 16, 16}, rng, torch::kUInt8);
    auto labels = torch::arange(n, torch::kInt64).remainder(3).to(torch::kUInt8);
    for (int64_t i = 0; i < n; ++i) pixels[i].slice(0, 5 * (i % 3), 5 * (i % 3) + 4).fill_(230);
    ganaug::write_idx(dir / (std::string(split) + "-images-idx3-ubyte"),
                      dir / (std::string(split) + "-labels-idx1-ubyte"), pixels, labels);
  }
}

}  // namespace ganaug::testing
